package registry

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoHandWrittenRoleChecks: no use case decides access by comparing an
// actor's role with an operator role; the policy (consent.Decide,
// consent.DecideOperation) decides, through the gate, and the gate records
// it. Comparing with consent.Subject (who is asking: the person or an
// operator) is not an access decision and is allowed.
func TestNoHandWrittenRoleChecks(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			be, ok := n.(*ast.BinaryExpr)
			if !ok || (be.Op != token.EQL && be.Op != token.NEQ) {
				return true
			}
			for _, pair := range [][2]ast.Expr{{be.X, be.Y}, {be.Y, be.X}} {
				sel, ok := pair[0].(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Role" {
					continue
				}
				role, ok := pair[1].(*ast.SelectorExpr)
				if !ok {
					continue
				}
				if pkg, ok := role.X.(*ast.Ident); ok && pkg.Name == "consent" && role.Sel.Name != "Subject" {
					t.Errorf("%s: a hand-written role check (%s): decide it in the policy, through the gate", fset.Position(be.Pos()), role.Sel.Name)
				}
			}
			return true
		})
	}
}
