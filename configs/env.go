package configs

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts every environment override: UPSTATE_ then the key's path in the file,
// upper-cased, with dots as underscores (server.listen is UPSTATE_SERVER_LISTEN,
// storage.redis.addrs is UPSTATE_STORAGE_REDIS_ADDRS).
const EnvPrefix = "UPSTATE_"

// EnvName is the environment variable that overrides the scalar key at path.
func EnvName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(path))
}

// applyEnv overrides every scalar key reachable through the file's mappings (not inside lists:
// a monitor is not a scalar) from UPSTATE_* variables, after the file is decoded and before
// defaults and validation, so the precedence is flag > environment > file > default. A list
// of strings (storage.redis.addrs) is given comma-separated. A bad value is a located error
// naming the variable.
func (d *decoder) applyEnv(cfg *Config) {
	if d.lookupEnv == nil {
		return
	}
	d.envValue(reflect.ValueOf(cfg).Elem(), "")
}

func (d *decoder) envValue(v reflect.Value, path string) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fv, p := v.Field(i), join(path, name)
		if fv.Kind() == reflect.Struct && fv.Type() != timeType {
			d.envValue(fv, p)
			continue
		}
		if !envScalar(fv.Type()) {
			continue
		}
		raw, ok := d.lookupEnv(EnvName(p))
		if !ok {
			continue
		}
		if err := setScalar(fv, raw); err != nil {
			d.add(&ValidationError{File: "$" + EnvName(p), Field: p, Message: err.Error()})
			continue
		}
		if d.env == nil {
			d.env = map[string]string{}
		}
		d.env[p] = EnvName(p)
	}
}

// envScalar reports whether a field of type t can be set from one variable.
func envScalar(t reflect.Type) bool {
	switch {
	case t == durationType:
		return true
	case t.Kind() == reflect.Pointer:
		return envScalar(t.Elem())
	case t.Kind() == reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64:
		return true
	}
	return false
}

func setScalar(v reflect.Value, raw string) error {
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		if err := setScalar(p.Elem(), raw); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	switch {
	case v.Type() == durationType:
		dur, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("invalid duration %q (use a number and a unit, such as 10s or 2h)", raw)
		}
		v.SetInt(int64(dur))
		return nil
	case v.Kind() == reflect.Slice:
		var items []string
		for s := range strings.SplitSeq(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		v.Set(reflect.ValueOf(items).Convert(v.Type()))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("invalid value %q: must be true or false", raw)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return fmt.Errorf("invalid value %q: must be an integer", raw)
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil {
			return fmt.Errorf("invalid value %q: must be a number", raw)
		}
		v.SetFloat(f)
	}
	return nil
}

// EnvKeys lists every key an UPSTATE_* variable can override, with its variable, in file
// order (for docs and `upstate check-config -env`).
func EnvKeys() [][2]string {
	var out [][2]string
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			p := join(path, name)
			if f.Type.Kind() == reflect.Struct && f.Type != timeType {
				walk(f.Type, p)
			} else if envScalar(f.Type) {
				out = append(out, [2]string{p, EnvName(p)})
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return out
}
