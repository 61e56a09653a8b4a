package migrate

import (
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
		want  int // migrations, or -1 for an error
	}{
		{"ordered", fstest.MapFS{"m/2_b.sql": {Data: []byte("B")}, "m/1_a.sql": {Data: []byte("A")}}, 2},
		{"gap", fstest.MapFS{"m/1_a.sql": {}, "m/3_c.sql": {}}, -1},
		{"duplicate number", fstest.MapFS{"m/1_a.sql": {}, "m/1_b.sql": {}}, -1},
		{"bad name", fstest.MapFS{"m/init.sql": {}}, -1},
		{"not sql", fstest.MapFS{"m/1_a.txt": {}}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := Load(tc.files, "m")
			if tc.want < 0 {
				if err == nil {
					t.Fatalf("want an error, got %v", ms)
				}
				return
			}
			if err != nil || len(ms) != tc.want || ms[0].SQL != "A" || ms[1].Version != 2 {
				t.Fatalf("got %+v, %v", ms, err)
			}
		})
	}
}
