package configs

import (
	"cmp"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ValidationError is one located problem in a config file.
type ValidationError struct {
	File    string
	Line    int
	Column  int
	Field   string // path such as monitors[2].timeout; empty for file-level problems
	Message string
}

func (e *ValidationError) Error() string {
	loc := e.File
	if e.Line > 0 && e.Line < 1<<30 {
		loc = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)
	}
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", loc, e.Message)
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Message)
}

type position struct{ line, column int }

// decoder maps a YAML node tree onto Go structs field by field. Unlike yaml.v3's own decoder it
// keeps going after a problem, so one run reports every unknown key and bad value, and it
// remembers where each field path was written so later checks can point at the line.
type decoder struct {
	file      string
	errs      []*ValidationError
	positions map[string]position
	lookupEnv func(string) (string, bool)
	budget    int               // nodes left to visit; aliases can make a small file expand enormously
	env       map[string]string // paths set by an UPSTATE_* variable, to the variable's name
}

// maxNodes bounds the nodes one config may expand to, aliases included. Real configs with ten
// thousand monitors stay far below it; an alias bomb hits it in milliseconds.
const maxNodes = 2_000_000

// maxErrors bounds the problems reported for one file; past it the rest are summarised.
const maxErrors = 100

func (d *decoder) add(e *ValidationError) {
	switch {
	case len(d.errs) < maxErrors:
		d.errs = append(d.errs, e)
	case len(d.errs) == maxErrors:
		d.errs = append(d.errs, &ValidationError{File: d.file, Line: 1 << 30, Message: fmt.Sprintf("more than %d problems; fix these first", maxErrors)})
	}
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	e := &ValidationError{File: d.file, Field: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.add(e)
}

// at reports a problem found after decoding, at the position recorded for path or, if path was
// not written in the file, at its nearest written ancestor.
func (d *decoder) at(path, format string, args ...any) {
	e := &ValidationError{File: d.file, Field: path, Message: fmt.Sprintf(format, args...)}
	if name, ok := d.env[path]; ok { // set by the environment, not by the file
		e.File = "$" + name
		d.add(e)
		return
	}
	for p := path; ; {
		if pos, ok := d.positions[p]; ok {
			e.Line, e.Column = pos.line, pos.column
			break
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			if pos, ok := d.positions[""]; ok {
				e.Line, e.Column = pos.line, pos.column
			}
			break
		}
		p = p[:i]
	}
	d.add(e)
}

// written reports whether the file set path.
func (d *decoder) written(path string) bool {
	_, ok := d.positions[path]
	return ok
}

func (d *decoder) sorted() []*ValidationError {
	errs := slices.Clone(d.errs)
	slices.SortStableFunc(errs, func(a, b *ValidationError) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return errs
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
)

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, secret bool) {
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.budget--; d.budget < 0 {
		if d.budget == -1 {
			d.errorf(n, path, "the document expands to more than %d values (alias loop or alias bomb?)", maxNodes)
		}
		return
	}
	d.positions[path] = position{n.Line, n.Column}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an explicit null leaves the default
	}
	switch {
	case v.Type() == durationType:
		if !d.scalar(n, path, "a duration such as 30s or 5m") {
			return
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			d.errorf(n, path, "invalid duration %q (use a number and a unit, such as 30s or 5m)", n.Value)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	if v.Type() == timeType {
		if !d.scalar(n, path, "an RFC 3339 time such as 2026-12-05T02:00:00+08:00") {
			return
		}
		t, err := time.Parse(time.RFC3339, n.Value)
		if err != nil {
			d.errorf(n, path, "invalid time %q (use RFC 3339 with an offset, such as 2026-12-05T02:00:00+08:00)", n.Value)
			return
		}
		v.Set(reflect.ValueOf(t))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path, secret)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "must be a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), secret)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errorf(n, path, "must be a mapping")
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if line, dup := seen[k.Value]; dup {
				d.errorf(k, join(path, k.Value), "duplicate key (first given on line %d)", line)
				continue
			}
			seen[k.Value] = k.Line
			elem := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, elem, join(path, k.Value), secret)
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
		}
		v.Set(m)
	case reflect.String:
		if !d.scalar(n, path, "a string") {
			return
		}
		s := n.Value
		if secret {
			s = d.expandEnv(n, path, s)
		}
		v.SetString(s)
	case reflect.Bool:
		if !d.scalar(n, path, "true or false") {
			return
		}
		b, err := strconv.ParseBool(n.Value)
		if err != nil || n.Tag != "!!bool" {
			d.errorf(n, path, "invalid value %q: must be true or false", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		if !d.scalar(n, path, "an integer") {
			return
		}
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			d.errorf(n, path, "invalid value %q: must be an integer", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		if !d.scalar(n, path, "a number") {
			return
		}
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			d.errorf(n, path, "invalid value %q: must be a number", n.Value)
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("configs: field %s has unsupported type %s", path, v.Type()))
	}
}

func (d *decoder) scalar(n *yaml.Node, path, want string) bool {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "must be %s", want)
		return false
	}
	return true
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping")
		return
	}
	t := v.Type()
	fields := map[string]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fields[name] = i
		names = append(names, name)
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		fieldPath := join(path, k.Value)
		idx, ok := fields[k.Value]
		if !ok {
			d.errorf(k, fieldPath, "unknown field%s", suggest(k.Value, names))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.errorf(k, fieldPath, "given twice (first on line %d)", line)
			continue
		}
		seen[k.Value] = k.Line
		f := t.Field(idx)
		d.decode(val, v.Field(idx), fieldPath, f.Tag.Get("secret") == "true")
	}
}

// suggest names the closest known field, for typos.
func suggest(got string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := levenshtein(got, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${NAME} with the environment variable NAME. Only fields marked secret are
// expanded, so a "$" anywhere else in the file is just a character.
func (d *decoder) expandEnv(n *yaml.Node, path, s string) string {
	return ExpandEnv(s, d.lookupEnv, func(name string) { d.errorf(n, path, "environment variable %s is not set", name) })
}

// ExpandEnv replaces each ${NAME} in s with the variable lookup finds, calling missing with
// the name of each that is not set (it is replaced by nothing). The one rule for secret
// fields, in the file and in targets made through the admin API.
func ExpandEnv(s string, lookup func(string) (string, bool), missing func(name string)) string {
	return envRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := envRef.FindStringSubmatch(ref)[1]
		val, ok := lookup(name)
		if !ok {
			missing(name)
		}
		return val
	})
}

// readSecretFile reads a *_file secret, trimming the final newline editors add.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func reflectValue(cfg *Config) reflect.Value { return reflect.ValueOf(cfg).Elem() }

func reflectValueOf(v any) reflect.Value { return reflect.ValueOf(v).Elem() }
