package admin

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
)

// staticFile is an embedded stylesheet or script, served with an ETag and
// referenced by a URL that carries its hash, so browsers may cache it.
type staticFile struct {
	body  []byte
	ctype string
	etag  string
}

func (h *Handler) loadStatic() error {
	h.static = map[string]staticFile{}
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := path.Base(p)
		ctype := mime.TypeByExtension(path.Ext(name))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		h.static[name] = staticFile{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return err
	}
	version := func(name string) string {
		return h.url("/static/" + name + "?v=" + h.static[name].etag[1:len(h.static[name].etag)-1])
	}
	h.cssURL, h.jsURL = version("admin.css"), version("admin.js")
	return nil
}

func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request) error {
	if p := readQuery(r, "v"); p.err != nil {
		return p.err
	}
	f, ok := h.static[r.PathValue("file")]
	if !ok {
		return errNotFound("no static file " + r.PathValue("file"))
	}
	w.Header().Set("Content-Type", f.ctype)
	w.Header().Set("ETag", f.etag)
	w.Header().Set("Cache-Control", "private, max-age=86400")
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if r.Method != http.MethodHead {
		w.Write(f.body)
	}
	return nil
}
