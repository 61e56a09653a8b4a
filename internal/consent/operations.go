package consent

// Operation is something an operator does that touches no person's data:
// reading audit metadata or aggregate statistics, managing sites. The
// policy decides it on the role alone (DecideOperation), through the same
// gate and audit log as personal data.
type Operation string

const (
	// ReadAuditLog is reading audit events and their denial statistics
	// (ids, never names or biometric data).
	ReadAuditLog Operation = "read_audit_log"
	// ReadConsentStatistics is reading the coercion-monitoring table.
	ReadConsentStatistics Operation = "read_consent_statistics"
	// ManageSites is registering sites.
	ManageSites Operation = "manage_sites"
	// ManageAreas is loading the area registry and its target populations.
	ManageAreas Operation = "manage_areas"
	// ReadReports is reading aggregate programme reports (coverage,
	// consent integrity, exclusion, register quality): counts with small
	// cells suppressed, never a person, so no purpose and no consent.
	ReadReports Operation = "read_reports"
	// ManageOperators is creating, listing and revoking operator keys and
	// setting operators' sign-in passwords (the web admin pages).
	ManageOperators Operation = "manage_operators"
	// ManageOwnCredential is an operator turning the second factor of
	// their own sign-in (TOTP) on or off. Every operator role has it; the
	// use cases act on the signed-in operator only, never on one named in
	// the request.
	ManageOwnCredential Operation = "manage_own_credential"
)

// Operations lists every operation in a stable order.
var Operations = []Operation{ReadAuditLog, ReadConsentStatistics, ManageSites, ManageAreas, ReadReports, ManageOperators, ManageOwnCredential}

// operations is the role x operation table (docs/consent.md).
var operations = map[Role][]Operation{
	Auditor:     {ReadAuditLog, ReadConsentStatistics, ReadReports, ManageOwnCredential},
	Admin:       {ManageSites, ManageAreas, ManageOperators, ManageOwnCredential},
	Manager:     {ReadReports, ManageOwnCredential},
	Registrar:   {ManageOwnCredential},
	Clinician:   {ManageOwnCredential},
	Verifier:    {ManageOwnCredential},
	Adjudicator: {ManageOwnCredential},
	Researcher:  {ManageOwnCredential},
}

// MayReadAggregates reports whether role may read aggregate reports.
func MayReadAggregates(role Role) bool { return DecideOperation(role, ReadReports).Allow }

// DecideOperation decides an operation on the role alone: allowed
// (role_operation) when the table gives it to the role, else
// role_not_allowed; an unknown role or operation is invalid_request.
func DecideOperation(role Role, op Operation) Verdict {
	known := false
	for _, o := range Operations {
		known = known || o == op
	}
	if !role.Valid() || !known {
		return deny(ReasonInvalidRequest, "")
	}
	for _, o := range operations[role] {
		if o == op {
			return allow(ReasonRoleOperation)
		}
	}
	return deny(ReasonRoleNotAllowed, "")
}
