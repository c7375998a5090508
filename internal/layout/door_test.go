package layout

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// storeWrites are the store's write methods (store/store.go): every change goes through the
// service, which calls them with the change's audit entry.
var storeWrites = map[string]bool{
	"CreateComponent": true, "UpdateComponent": true, "DeleteComponent": true, "AppendStatus": true,
	"AppendTransition": true, "AddRollups": true, "PruneRollups": true, "CreateWindow": true, "UpdateWindow": true,
	"CreateIncident": true, "UpdateIncident": true, "CreateKey": true, "RevokeKey": true, "AppendAudit": true,
	"SetCursor": true, "AppendEvents": true, "SetJournalCursor": true, "PruneJournal": true, "EnqueueNotifications": true,
	"ClaimNotifications": true, "FinishNotification": true, "ChangeNotification": true, "PruneNotifications": true,
	"AcquireLease": true, "ReleaseLease": true,
	"KeepStatusDays":   true,
	"CreateSubscriber": true, "UpdateSubscriber": true, "DeleteSubscriber": true, "CountRate": true,
}

// coordination are the methods instances sharing a store agree through (store/cluster.go): a
// leader lease and the live members. They change no data (nothing audited, exported or shown),
// so they do not go through the service; the engine, their one consumer, calls them.
var coordination = map[string]bool{"ObtainLeadership": true, "Beat": true, "Leave": true, "Announce": true, "ListenAnnouncements": true}

func coordinator(dir string) bool {
	return dir == "engine" || dir == "store" || strings.HasPrefix(dir, "store/")
}

// doorKeepers may call them: the service (the one door) and the store itself (backends,
// migrations, import). Tests set up their fixtures directly.
func doorKeeper(dir string) bool {
	return dir == "service" || dir == "store" || strings.HasPrefix(dir, "store/") || strings.HasPrefix(dir, "internal/bench/")
}

// TestOnlyTheServiceWrites walks every non-test Go file and finds no call of a store write
// method outside the door keepers, so no surface can change stored data without the service's
// audit entry and event.
func TestOnlyTheServiceWrites(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	found := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if ok && coordination[sel.Sel.Name] && !coordinator(rel) {
				t.Errorf("%s: %s is called outside the engine; instances coordinate through the engine", fset.Position(call.Pos()), sel.Sel.Name)
			}
			if !ok || !storeWrites[sel.Sel.Name] {
				return true
			}
			found++
			if !doorKeeper(rel) {
				t.Errorf("%s: %s is called outside the service; change it through service instead", fset.Position(call.Pos()), sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatal("no store write found anywhere: the walk looked in the wrong place")
	}
}
