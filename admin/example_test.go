package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// Mount the admin under /admin/ of the app's mux, behind HTTP basic auth.
func ExampleNew() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "spool-admin-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "shop.db"), sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, queue.NewJob{Kind: "email.receipt", Queue: "mail"}); err != nil {
		log.Fatal(err)
	}

	h, err := admin.New(q, admin.Options{
		Prefix:    "/admin",
		Authorize: admin.BasicAuth("admin", "a long random password"),
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// Without the password: 401, and the browser asks for it.
	resp, err := http.Get(srv.URL + "/admin/")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("WWW-Authenticate"))

	// With it: the JSON API (and the pages).
	req, _ := http.NewRequest("GET", srv.URL+"/admin/api/queues", nil)
	req.SetBasicAuth("admin", "a long random password")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Queues []struct {
			Name    string
			Pending int
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status, body.Queues[0].Name, body.Queues[0].Pending)
	// Output:
	// 401 Unauthorized Basic realm="spool admin", charset="UTF-8"
	// 200 OK mail 1
}
