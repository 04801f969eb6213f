// oneshot: the smallest Go server of the txn-id-server kind, the baseline of the
// one-shot row of bench (f): accept, write the next counter value and "\n", close.
// In memory only (no durability, no lease): what one-shot TCP costs at the least.
//
//	go build -o /tmp/oneshot bench/baselines/oneshot.go && /tmp/oneshot -addr 127.0.0.1:18963
package main

import (
	"flag"
	"net"
	"strconv"
	"sync/atomic"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18963", "listen address (HOST:PORT)")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		panic(err)
	}
	var counter atomic.Uint64
	for {
		conn, err := ln.Accept()
		if err != nil {
			continue
		}
		go func(conn net.Conn) {
			reply := strconv.AppendUint(make([]byte, 0, 24), counter.Add(1), 10)
			conn.Write(append(reply, '\n'))
			conn.Close()
		}(conn)
	}
}
