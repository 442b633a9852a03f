// Command fileserver serves a directory over HTTP, reading it through an
// aio ring: every open, stat, directory read and file read of a request
// is an operation of the ring that takes the request's context, so a
// client that goes away cancels the disk reads of its request (those
// still waiting are cancelled; one the kernel is already doing completes
// and is the last).
//
//	go run ./examples/fileserver -dir /srv/www -addr localhost:8080
//
// Symbolic links that lead out of the directory are not followed (see
// aio.Ring.DirFS). On interrupt it stops accepting, waits for the
// requests in flight, closes the ring and prints its counters.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"

	"github.com/waitforit/aio"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	dir := flag.String("dir", ".", "directory to serve")
	backend := flag.String("backend", "", `aio backend: "uring", "portable", or "" for the best available`)
	flag.Parse()

	ring, err := aio.New(aio.Config{Backend: *backend})
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: newHandler(ring, *dir)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt)
		<-stop
		if err := srv.Shutdown(context.Background()); err != nil {
			log.Print(err)
		}
	}()
	log.Printf("serving %s on http://%s (aio backend %s)", *dir, *addr, ring.Backend())
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
	<-done
	st := ring.Stats()
	if err := ring.Close(); err != nil {
		log.Print(err)
	}
	log.Printf("ring: %d operations, %d cancelled (%d cancels came too late)", st.Submitted, st.Canceled, st.CancelRacesLost)
}

// newHandler is the file server: http.FileServerFS on ring.DirFS(dir),
// through a view of it bound to each request's context
// (aio.ContextFS.WithContext). The context reaches every read of the
// request that way: FileServerFS reads the file it opened through the
// view, and the view's files do ReadContext(request context, ...). When
// the client disconnects, net/http cancels that context, and the read in
// flight is cancelled and waited for (a read the kernel already does
// completes); reads after it are never submitted.
func newHandler(ring *aio.Ring, dir string) http.Handler {
	fsys := ring.DirFS(dir).(aio.ContextFS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.FileServerFS(fsys.WithContext(r.Context())).ServeHTTP(w, r)
	})
}
