package bimi

import (
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// MaxSVGSize is the largest logo the BIMI Group recommends (32 KiB);
// receivers may refuse anything larger, and several do.
const MaxSVGSize = 32 * 1024

// maxSVGInflated bounds an SVGZ once decompressed, so that a small
// compressed file cannot make the checker read without end.
const maxSVGInflated = 1 << 20

// ProblemCode names one way a logo breaks the SVG Tiny PS profile.
type ProblemCode string

const (
	ProblemNotSVG       ProblemCode = "not-svg"       // not an XML document with an svg root
	ProblemTooLarge     ProblemCode = "too-large"     // over MaxSVGSize
	ProblemProfile      ProblemCode = "profile"       // baseProfile is not tiny-ps, or version not 1.2
	ProblemNoTitle      ProblemCode = "no-title"      // the svg has no title child
	ProblemRootXY       ProblemCode = "root-xy"       // x= or y= on the root element
	ProblemDisallowed   ProblemCode = "disallowed"    // an element the profile excludes (script, image, animation, ...)
	ProblemExternalRef  ProblemCode = "external-ref"  // a reference to anything outside the document
	ProblemEventHandler ProblemCode = "event-handler" // an on...= attribute
	ProblemNotSquare    ProblemCode = "not-square"    // the view box is not square
	ProblemEntity       ProblemCode = "entity"        // a DTD or entity declaration
	ProblemNoDimensions ProblemCode = "no-dimensions" // neither viewBox nor width and height
)

// Problem is one fault of a logo, with what shows it.
type Problem struct {
	Code   ProblemCode
	Detail string // the element or attribute at fault, as found
}

// disallowed are elements SVG Tiny PS excludes: scripts and the Tiny 1.2
// event elements, animation, raster and foreign content, multimedia,
// prefetching, and filters. The list keeps to what the profile and the
// BIMI Group's guidance both name, so that a valid logo raises no false
// alarm; a link (<a>) to outside the document is caught as an external
// reference instead.
var disallowed = map[string]bool{
	"script": true, "handler": true, "listener": true,
	"animate": true, "animateColor": true, "animateMotion": true, "animateTransform": true, "set": true,
	"discard": true, "image": true, "foreignObject": true, "video": true, "audio": true,
	"animation": true, "prefetch": true, "filter": true,
}

// CheckSVG checks a fetched logo against the SVG Tiny PS profile's
// requirements that can be read from the document itself. An SVGZ (gzip)
// document is decompressed first, within a bound. An empty result means
// none was found.
func CheckSVG(data []byte) []Problem {
	var out []Problem
	if len(data) > MaxSVGSize {
		out = append(out, Problem{Code: ProblemTooLarge, Detail: strconv.Itoa(len(data)) + " bytes"})
	}
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return append(out, Problem{Code: ProblemNotSVG, Detail: "a gzip stream that does not decompress"})
		}
		inflated, err := io.ReadAll(io.LimitReader(zr, maxSVGInflated+1))
		if err != nil || len(inflated) > maxSVGInflated {
			return append(out, Problem{Code: ProblemNotSVG, Detail: "a gzip stream that does not decompress within 1 MiB"})
		}
		data = inflated
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	// No entity is ever expanded: the profile has no use for them and an
	// expansion is an attack surface.
	dec.Entity = map[string]string{}
	depth := 0
	sawRoot, sawTitle := false, false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return append(out, Problem{Code: ProblemNotSVG, Detail: err.Error()})
		}
		switch t := tok.(type) {
		case xml.Directive:
			if bytes.Contains(bytes.ToUpper(t), []byte("ENTITY")) || bytes.HasPrefix(bytes.ToUpper(bytes.TrimSpace(t)), []byte("DOCTYPE")) {
				out = append(out, Problem{Code: ProblemEntity, Detail: "<!" + firstWords(string(t)) + ">"})
			}
		case xml.StartElement:
			depth++
			if depth == 1 {
				if t.Name.Local != "svg" || t.Name.Space != "http://www.w3.org/2000/svg" {
					return append(out, Problem{Code: ProblemNotSVG, Detail: "root element <" + t.Name.Local + "> in namespace " + strconv.Quote(t.Name.Space)})
				}
				sawRoot = true
				out = append(out, checkRoot(t)...)
			}
			if depth == 2 && t.Name.Local == "title" {
				sawTitle = true
			}
			if disallowed[t.Name.Local] {
				out = append(out, Problem{Code: ProblemDisallowed, Detail: "<" + t.Name.Local + ">"})
			}
			for _, a := range t.Attr {
				out = append(out, checkAttr(t.Name.Local, a)...)
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth > 0 && bytes.Contains(bytes.ToLower(t), []byte("@import")) {
				out = append(out, Problem{Code: ProblemExternalRef, Detail: "@import in a style"})
			}
		}
	}
	if !sawRoot {
		return append(out, Problem{Code: ProblemNotSVG, Detail: "no svg element"})
	}
	if !sawTitle {
		out = append(out, Problem{Code: ProblemNoTitle, Detail: "<svg> has no <title> child"})
	}
	return out
}

// checkRoot checks the root element's profile, position and shape.
func checkRoot(t xml.StartElement) []Problem {
	var out []Problem
	attr := map[string]string{}
	for _, a := range t.Attr {
		if a.Name.Space == "" {
			attr[a.Name.Local] = a.Value
		}
	}
	if attr["baseProfile"] != "tiny-ps" {
		out = append(out, Problem{Code: ProblemProfile, Detail: fmt.Sprintf("baseProfile=%q (want tiny-ps)", attr["baseProfile"])})
	}
	if attr["version"] != "1.2" {
		out = append(out, Problem{Code: ProblemProfile, Detail: fmt.Sprintf("version=%q (want 1.2)", attr["version"])})
	}
	for _, xy := range []string{"x", "y"} {
		if _, ok := attr[xy]; ok {
			out = append(out, Problem{Code: ProblemRootXY, Detail: xy + "=" + strconv.Quote(attr[xy])})
		}
	}
	w, h, ok := viewBoxSize(attr["viewBox"])
	if !ok {
		w, ok = length(attr["width"])
		if ok {
			h, ok = length(attr["height"])
		}
	}
	switch {
	case !ok:
		out = append(out, Problem{Code: ProblemNoDimensions, Detail: "neither a viewBox nor a width and height"})
	case math.Abs(w-h) > 1e-9*math.Max(w, h):
		out = append(out, Problem{Code: ProblemNotSquare, Detail: fmt.Sprintf("%g × %g", w, h)})
	}
	return out
}

// checkAttr finds event handlers and references to outside the document.
func checkAttr(elem string, a xml.Attr) []Problem {
	name := a.Name.Local
	v := strings.TrimSpace(a.Value)
	switch {
	case strings.HasPrefix(strings.ToLower(name), "on"):
		return []Problem{{Code: ProblemEventHandler, Detail: "<" + elem + " " + name + "=...>"}}
	case name == "href":
		// xlink:href or href: only a fragment of this document.
		if !strings.HasPrefix(v, "#") {
			return []Problem{{Code: ProblemExternalRef, Detail: "<" + elem + " href=" + strconv.Quote(v) + ">"}}
		}
	case strings.Contains(v, "url("):
		for rest := v; ; {
			i := strings.Index(rest, "url(")
			if i < 0 {
				break
			}
			ref := strings.Trim(strings.TrimSpace(rest[i+4:]), `'"`)
			if !strings.HasPrefix(ref, "#") {
				return []Problem{{Code: ProblemExternalRef, Detail: "<" + elem + " " + name + "=" + strconv.Quote(v) + ">"}}
			}
			rest = rest[i+4:]
		}
	}
	return nil
}

// viewBoxSize reads "min-x min-y width height" (commas or spaces).
func viewBoxSize(v string) (w, h float64, ok bool) {
	f := strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' || r == '\r' })
	if len(f) != 4 {
		return 0, 0, false
	}
	w, err1 := strconv.ParseFloat(f[2], 64)
	h, err2 := strconv.ParseFloat(f[3], 64)
	return w, h, err1 == nil && err2 == nil && w > 0 && h > 0
}

// length reads a width or height in user units or px.
func length(v string) (float64, bool) {
	v = strings.TrimSuffix(strings.TrimSpace(v), "px")
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil && f > 0
}

func firstWords(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}
