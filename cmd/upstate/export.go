package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/upstate-dev/upstate/store"
)

// exportCmd writes every entity of the configured store as JSON Lines (docs/export.md).
func exportCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("export", "export -config FILE [-o FILE]", stderr)
	configPath := fs.String("config", "upstate.yaml", "the config `file` naming the store")
	out := fs.String("o", "-", "write to this `file` (- for standard output)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, ok := loadConfig(*configPath, stderr)
	if !ok {
		return 1
	}
	ctx := context.Background()
	st, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "upstate export: open store: %v\n", err)
		return 1
	}
	defer st.Close()
	w := stdout
	var f *os.File
	if *out != "-" {
		if f, err = os.Create(*out); err != nil {
			fmt.Fprintf(stderr, "upstate export: %v\n", err)
			return 1
		}
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	header := store.Record{Type: store.RecordHeader, Header: &store.ExportHeader{Format: "upstate-export", Version: store.ExportVersion,
		ExportedAt: time.Now().UTC(), Source: cfg.Storage.Backend}}
	n := 0
	err = enc.Encode(header)
	if err == nil {
		err = st.Export(ctx, func(r store.Record) error { n++; return enc.Encode(r) })
	}
	if err == nil {
		err = bw.Flush()
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "upstate export: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "exported %d records\n", n)
	return 0
}

// maxLine bounds one line of an import file (an incident with a long timeline stays far below).
const maxLine = 64 << 20

// readExport reads and checks an export file. It returns every problem, by line.
func readExport(r io.Reader) ([]store.Record, []error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), maxLine)
	var records []store.Record
	var errs []error
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var rec store.Record
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %v", line, err))
			continue
		}
		if line == 1 {
			h := rec.Header
			switch {
			case rec.Type != store.RecordHeader || h == nil || h.Format != "upstate-export":
				return nil, []error{errors.New("line 1: not an Upstate export (the header line is missing)")}
			case h.Version > store.ExportVersion || h.Version < 1:
				return nil, []error{fmt.Errorf("line 1: export format version %d; this build reads up to %d", h.Version, store.ExportVersion)}
			}
			continue
		}
		records = append(records, rec)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("line %d: %v", line+1, err))
	}
	if line == 0 {
		return nil, []error{errors.New("the file is empty")}
	}
	if len(errs) == 0 {
		errs = store.ValidateRecords(records)
	}
	return records, errs
}

// importCmd loads an export into an empty store: every line is checked first, and nothing is
// written unless all of them are valid.
func importCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("import", "import -config FILE [-i FILE]", stderr)
	configPath := fs.String("config", "upstate.yaml", "the config `file` naming the store to fill")
	in := fs.String("i", "-", "read from this `file` (- for standard input)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, ok := loadConfig(*configPath, stderr)
	if !ok {
		return 1
	}
	var r io.Reader = os.Stdin
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			fmt.Fprintf(stderr, "upstate import: %v\n", err)
			return 1
		}
		defer f.Close()
		r = f
	}
	records, errs := readExport(r)
	if len(errs) > 0 {
		for i, e := range errs {
			if i == 100 {
				fmt.Fprintf(stderr, "... and %d more\n", len(errs)-100)
				break
			}
			fmt.Fprintf(stderr, "upstate import: %v\n", e)
		}
		fmt.Fprintln(stderr, "upstate import: nothing was written")
		return 1
	}
	ctx := context.Background()
	st, err := openStoreExclusive(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "upstate import: open store: %v\n", err)
		return 1
	}
	defer st.Close()
	if err := st.Import(ctx, records); err != nil {
		if errors.Is(err, store.ErrConflict) {
			fmt.Fprintf(stderr, "upstate import: %v (import only into an empty store)\n", err)
		} else {
			fmt.Fprintf(stderr, "upstate import: %v\n", err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "imported %d records\n", len(records))
	return 0
}
