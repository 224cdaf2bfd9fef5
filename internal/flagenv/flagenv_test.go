package flagenv

import (
	"flag"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{"default", nil, nil, "d", false},
		{"env", nil, map[string]string{"DUET_TURN_ADDR": "e"}, "e", false},
		{"flag wins", []string{"--turn-addr", "f"}, map[string]string{"DUET_TURN_ADDR": "e"}, "f", false},
		{"bad env value", nil, map[string]string{"DUET_N": "x"}, "d", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			s := fs.String("turn-addr", "d", "")
			fs.Int("n", 1, "")
			err := Parse(fs, tc.args, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if *s != tc.want {
				t.Fatalf("turn-addr = %q, want %q", *s, tc.want)
			}
		})
	}
}
