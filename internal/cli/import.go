package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dirlock"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// maxImportLine bounds one JSONL line (inline base64 captures are large).
const maxImportLine = 64 << 20

func newImportCmd() *cobra.Command {
	var dir, site string
	var strict bool
	cmd := &cobra.Command{
		Use:   "import FILE.jsonl",
		Short: "Bulk enrolment from a JSON Lines file (resumable; each line all or nothing)",
		Long: `import registers one person per line: {"person": {...as POST /v1/persons...},
"biometrics": [{"modality", "position", "format", "purpose", "file" or "data", "dpi"}]}.
"file" paths are relative to the folder of FILE and must stay inside it
(no absolute path, no "..", no link leading out), each at most 4 MiB. Each line is written in one transaction with
its audit events; a line already imported (same file content, same line) is
skipped, so an import killed half-way is resumed by running it again. A
malformed line is reported with its number and skipped, or stops the import
with --strict. Run it while the server is stopped (the server's 1:N galleries
are loaded at start).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			log := newLogger(cmd.ErrOrStderr(), "text")
			a, err := openDir(ctx, dir, log, openOptions{Migrate: true, Lock: dirlock.Exclusive, Command: "assent import",
				Why: "its 1:N galleries are loaded at start and would miss the imported people as duplicates", Postgres: pgFlag(cmd), KeysPostgres: keysPGFlag(cmd)})
			if err != nil {
				return err
			}
			defer a.Close()
			if site != "" {
				sites, err := a.reg.ListSites(ctx)
				if err != nil {
					return err
				}
				if !slices.ContainsFunc(sites, func(s registry.SiteView) bool { return s.Code == site }) {
					return fmt.Errorf("--site %s: no such site", site)
				}
			}
			if _, err := a.reg.LoadGalleries(ctx, nil); err != nil {
				return err
			}
			file := args[0]
			sum, lines, err := scanFile(file)
			if err != nil {
				return err
			}
			actor := registry.Actor{OperatorID: "system:import", Role: consent.Registrar, Site: site, Route: "assent import"}
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			var bar *progressbar.ProgressBar
			if fd, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(fd.Fd())) {
				bar = progressbar.NewOptions(lines, progressbar.OptionSetWriter(cmd.ErrOrStderr()), progressbar.OptionSetDescription("importing"), progressbar.OptionShowCount())
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 0, 1<<20), maxImportLine)
			var st importStats
			start, lastLog := time.Now(), time.Now()
			base, err := os.OpenRoot(filepath.Dir(file))
			if err != nil {
				return err
			}
			defer base.Close()
			for n := 1; sc.Scan(); n++ {
				if err := ctx.Err(); err != nil {
					return err
				}
				line := bytes.TrimSpace(sc.Bytes())
				if len(line) == 0 {
					continue
				}
				res, err := importLine(ctx, a.reg, actor, fmt.Sprintf("%s:%d", sum, n), base, line)
				switch {
				case err != nil:
					st.failed++
					fmt.Fprintf(cmd.ErrOrStderr(), "line %d: %v\n", n, err)
					if strict {
						return &exitError{code: 1, err: fmt.Errorf("stopped at line %d (--strict); lines before it are imported, run again to resume", n)}
					}
				case res.AlreadyDone:
					st.skipped++
				default:
					st.imported++
					st.duplicates += len(res.Duplicates)
				}
				if bar != nil {
					_ = bar.Add(1)
				} else if time.Since(lastLog) > 2*time.Second {
					log.Info("import progress", "line", n, "of", lines, "imported", st.imported, "skipped", st.skipped, "failed", st.failed)
					lastLog = time.Now()
				}
			}
			if err := sc.Err(); err != nil {
				return fmt.Errorf("reading %s: %w", file, err)
			}
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(cmd.ErrOrStderr())
			}
			out := map[string]any{"imported": st.imported, "already_imported": st.skipped, "failed": st.failed,
				"possible_duplicates": st.duplicates, "seconds": time.Since(start).Seconds()}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
		},
	}
	cmd.Flags().StringVar(&dir, "data", "", "data directory")
	addPostgresFlag(cmd.Flags())
	cmd.Flags().StringVar(&site, "site", "", "site code recorded on the imported consents")
	cmd.Flags().BoolVar(&strict, "strict", false, "stop at the first bad line instead of skipping it")
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

type importStats struct{ imported, skipped, failed, duplicates int }

// scanFile returns the file's content hash (the import's identity, so a
// resumed run recognises its lines) and its number of lines.
func scanFile(path string) (string, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	var lines int
	buf := make([]byte, 1<<20)
	for {
		n, err := f.Read(buf)
		h.Write(buf[:n])
		lines += bytes.Count(buf[:n], []byte{'\n'})
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", 0, err
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), lines, nil
}

func importLine(ctx context.Context, reg *registry.Registry, actor registry.Actor, key string, base *os.Root, line []byte) (registry.ImportResult, error) {
	var rec registry.ImportRecord
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return registry.ImportResult{}, fmt.Errorf("malformed JSON: %w", err)
	}
	for i := range rec.Biometrics {
		c := &rec.Biometrics[i]
		if c.File == "" {
			continue
		}
		if len(c.Data) > 0 {
			return registry.ImportResult{}, fmt.Errorf("biometrics[%d]: give data or file, not both", i)
		}
		b, err := readCapture(base, c.File)
		if err != nil {
			return registry.ImportResult{}, fmt.Errorf("biometrics[%d]: %w", i, err)
		}
		c.Data = b
	}
	return reg.ImportOne(ctx, actor, key, rec)
}

// readCapture reads the capture file name, a path relative to the JSONL
// file's folder that must stay inside it (an absolute path, "..", or a
// symbolic link leading out is refused by os.Root), of at most
// registry.MaxCaptureBytes.
func readCapture(base *os.Root, name string) ([]byte, error) {
	if filepath.IsAbs(name) {
		return nil, fmt.Errorf("file %q: an absolute path; capture files must be under the folder of the JSONL file", name)
	}
	f, err := base.Open(filepath.FromSlash(name))
	if err != nil {
		return nil, fmt.Errorf("file %q: %w (capture files must be under the folder of the JSONL file)", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, registry.MaxCaptureBytes+1))
	if err != nil {
		return nil, fmt.Errorf("file %q: %w", name, err)
	}
	if len(b) > registry.MaxCaptureBytes {
		return nil, fmt.Errorf("file %q: larger than %d bytes", name, registry.MaxCaptureBytes)
	}
	return b, nil
}
