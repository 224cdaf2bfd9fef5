// Package flagenv gives every flag of a FlagSet an environment variable
// equivalent: --turn-secret reads DUET_TURN_SECRET when the flag is not on
// the command line. Flags win over the environment, which wins over defaults.
package flagenv

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// EnvName is the variable that stands for flag name: "turn-addr" → "DUET_TURN_ADDR".
func EnvName(name string) string {
	return "DUET_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Parse parses args into fs, then fills every flag that args did not set from
// its DUET_* variable, if present. lookup is os.LookupEnv in production.
func Parse(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v, ok := lookup(EnvName(f.Name)); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, e)
			}
		}
	})
	return err
}

// Usage appends the environment variable to each flag's help text, so
// `duet serve -h` shows both spellings.
func Usage(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		f.Usage += " (env " + EnvName(f.Name) + ")"
	})
}
