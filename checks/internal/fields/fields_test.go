package fields

import (
	"slices"
	"testing"
)

func TestAll(t *testing.T) {
	tests := []struct {
		txt     string
		want    []Field
		wantErr string
	}{
		{txt: "v=X1; a=1", want: []Field{{"a", "1"}}},
		{txt: "v=X1;a=1;", want: []Field{{"a", "1"}}},
		{txt: "v=X1 ;\ta=1 ; b= 2=3 ; ", want: []Field{{"a", "1"}, {"b", " 2=3"}}},
		{txt: "v=X1; a=; a=2", want: []Field{{"a", ""}, {"a", "2"}}},
		{txt: "v=X1", want: nil},
		{txt: "v=X1;", want: nil},

		{txt: " v=X1; a=1", wantErr: "the record must begin with v=X1"},
		{txt: "v=x1; a=1", wantErr: "the record must begin with v=X1"},
		{txt: "v=X1 a=1", wantErr: `v=X1 must be followed by ";"`},
		{txt: "v=X1;; a=1", wantErr: "an empty field between semicolons"},
		{txt: "v=X1; a=1;;", want: []Field{{"a", "1"}}, wantErr: "an empty field between semicolons"},
		{txt: "v=X1; a=1; b; c=3", want: []Field{{"a", "1"}}, wantErr: `"b" is not a name=value field`},
	}
	for _, tt := range tests {
		t.Run(tt.txt, func(t *testing.T) {
			var got []Field
			var gotErr string
			for f, err := range All(tt.txt, "X1") {
				if err != nil {
					if f != (Field{}) {
						t.Errorf("an error came with field %+v", f)
					}
					gotErr = err.Error()
					continue // the sequence must end by itself
				}
				got = append(got, f)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("fields = %+v, want %+v", got, tt.want)
			}
			if gotErr != tt.wantErr {
				t.Errorf("error = %q, want %q", gotErr, tt.wantErr)
			}
		})
	}
}

// A caller that stops at a field it rejects must not be yielded to again;
// the runtime panics if it is.
func TestAllStops(t *testing.T) {
	n := 0
	for range All("v=X1; a=1; b=2;; c", "X1") {
		n++
		break
	}
	if n != 1 {
		t.Fatalf("%d fields after break, want 1", n)
	}
}
