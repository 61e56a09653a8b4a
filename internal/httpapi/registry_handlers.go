package httpapi

import (
	"net/http"

	"github.com/assent-registry/assent/internal/registry"
)

func (s *Server) createSite(w http.ResponseWriter, r *http.Request) error {
	var in registry.NewSite
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.reg.CreateSite(r.Context(), actorFrom(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listSites(w http.ResponseWriter, r *http.Request) error {
	out, err := s.reg.ListSites(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"sites": out})
	return nil
}

func (s *Server) createHousehold(w http.ResponseWriter, r *http.Request) error {
	var in registry.NewHousehold
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.reg.CreateHousehold(r.Context(), actorFrom(r), purposeFrom(r), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/households/"+out.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) getHousehold(w http.ResponseWriter, r *http.Request) error {
	out, err := s.reg.GetHousehold(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request) error {
	var in registry.MemberChange
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.reg.AddMember(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) changeHead(w http.ResponseWriter, r *http.Request) error {
	var in registry.HeadChange
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.reg.ChangeHead(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) splitHousehold(w http.ResponseWriter, r *http.Request) error {
	var in registry.Split
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.reg.SplitHousehold(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/households/"+out.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) createPerson(w http.ResponseWriter, r *http.Request) error {
	var in registry.NewPerson
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.reg.CreatePerson(r.Context(), actorFrom(r), purposeFrom(r), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/persons/"+out.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) findPersons(w http.ResponseWriter, r *http.Request) error {
	var in registry.FindQuery
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.reg.FindPersons(r.Context(), actorFrom(r), purposeFrom(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"persons": out})
	return nil
}

func (s *Server) getPerson(w http.ResponseWriter, r *http.Request) error {
	out, err := s.reg.GetPerson(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) updatePerson(w http.ResponseWriter, r *http.Request) error {
	var in registry.PersonPatch
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.reg.UpdatePerson(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) personHistory(w http.ResponseWriter, r *http.Request) error {
	out, err := s.reg.PersonHistory(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": out})
	return nil
}
