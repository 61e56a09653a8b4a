package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dirlock"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/spf13/cobra"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage operator API keys"}
	var dir string
	cmd.PersistentFlags().StringVar(&dir, "data", "", "data directory")
	addPostgresFlag(cmd.PersistentFlags())
	_ = cmd.MarkPersistentFlagRequired("data")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	var role, site, name, user string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an operator and print its new API key (shown once) alone on stdout",
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := openDir(cmd.Context(), dir, quiet, openOptions{Migrate: true, Lock: dirlock.Shared, Command: "assent keys create", Postgres: pgFlag(cmd), KeysPostgres: keysPGFlag(cmd)})
			if err != nil {
				return err
			}
			defer a.Close()
			var password string
			if user != "" {
				if password, err = readPassword(cmd.InOrStdin(), cmd.ErrOrStderr(), user); err != nil {
					return err
				}
				if err := registry.CheckOperatorLogin(user, password); err != nil {
					return err
				}
			}
			op, key, err := a.reg.CreateOperator(cmd.Context(), registry.NewOperator{Role: consent.Role(role), Site: site, Name: name})
			if err != nil {
				return err
			}
			if user != "" {
				if err := a.reg.SetOperatorPassword(cmd.Context(), registry.Actor{Role: consent.Admin}, op.ID, user, password); err != nil {
					// Nothing half-made: the operator without its password goes.
					_ = a.reg.RevokeOperator(cmd.Context(), op.ID)
					return err
				}
				fmt.Fprintln(cmd.ErrOrStderr(), "web sign-in user", user)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "created operator", op.ID, "role", op.Role)
			_, err = fmt.Fprintln(cmd.OutOrStdout(), key)
			return err
		},
	}
	create.Flags().StringVar(&role, "role", "", "admin, registrar, clinician, verifier, adjudicator, researcher or auditor")
	create.Flags().StringVar(&site, "site", "", "site code (must exist)")
	create.Flags().StringVar(&name, "name", "", "a label for the operator")
	create.Flags().StringVar(&user, "user", "", "also a user name for the web interface; the password is asked for (or read from the first line of stdin)")
	_ = create.MarkFlagRequired("role")

	list := &cobra.Command{
		Use:   "list",
		Short: "List operators (never their keys) as JSON lines",
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := openDir(cmd.Context(), dir, quiet, openOptions{Migrate: true, Lock: dirlock.Shared, Command: "assent keys list", Postgres: pgFlag(cmd), KeysPostgres: keysPGFlag(cmd)})
			if err != nil {
				return err
			}
			defer a.Close()
			ops, err := a.reg.ListOperators(cmd.Context())
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			for _, o := range ops {
				if err := enc.Encode(o); err != nil {
					return err
				}
			}
			return nil
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke OPERATOR_ID",
		Short: "Revoke an operator's key at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openDir(cmd.Context(), dir, quiet, openOptions{Migrate: true, Lock: dirlock.Shared, Command: "assent keys revoke", Postgres: pgFlag(cmd), KeysPostgres: keysPGFlag(cmd)})
			if err != nil {
				return err
			}
			defer a.Close()
			return a.reg.RevokeOperator(cmd.Context(), args[0])
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate-master",
		Short: "Make a new master key and rewrap every data key under it (data is not touched)",
		Long: `rotate-master creates a new master key, rewraps every per-person data key
(and the registry's signing and index secrets) in one transaction of the key
store, then replaces the master key file. Stop the server first. Destroy old
copies of the master key wherever you kept them.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := openDir(cmd.Context(), dir, quiet, openOptions{Migrate: true, Lock: dirlock.Exclusive, Command: "assent keys rotate-master",
				Why: "it holds the master key in memory and would keep using the old one", Postgres: pgFlag(cmd), KeysPostgres: keysPGFlag(cmd)})
			if err != nil {
				return err
			}
			defer a.Close()
			old := a.keys.MasterID()
			next, err := envelope.RotateMasterKeyFile(cmd.Context(), a.keys, masterKeyPath(dir))
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "master key rotated: %s -> %s\n", old, next.ID())
			return err
		},
	}
	cmd.AddCommand(create, list, revoke, rotate)
	return cmd
}
