package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// eventReceiver is a webhook endpoint served by the driver, registered for
// the bench tenant, so that creditd writes, fans out and delivers every
// event while the rounds run (-events).
type eventReceiver struct {
	url      string
	received atomic.Int64
	srv      *http.Server
}

func startEventReceiver(ctx context.Context, base, key string) (*eventReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &eventReceiver{url: "http://" + ln.Addr().String() + "/events"}
	r.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = r.srv.Serve(ln) }()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/webhook-endpoints", strings.NewReader(`{"url":"`+r.url+`"}`))
	if err != nil {
		r.close()
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.close()
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		r.close()
		return nil, fmt.Errorf("register the endpoint: %d %s", resp.StatusCode, body)
	}
	return r, nil
}

func (r *eventReceiver) close() { _ = r.srv.Close() }
