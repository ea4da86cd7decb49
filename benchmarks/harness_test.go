package benchmarks

import "testing"

// forEachSDK runs fn as sub-benchmark b.Run(sdk.name, ...) for every sdk,
// the typed rows only if typed is set.
func forEachSDK(b *testing.B, typed bool, fn func(b *testing.B, s sdk)) {
	for _, s := range sdks {
		if s.typed && !typed {
			continue
		}
		b.Run(s.name, func(b *testing.B) { fn(b, s) })
	}
}

// startClient starts a sink and a client of s sending to it, and registers
// their shutdown with b.Cleanup (Close is harmless if the benchmark already
// closed the client; it is needed when the benchmark fails half-way).
func startClient(b *testing.B, s sdk, cfg clientConfig) (*sink, benchClient) {
	b.Helper()
	sk := newSink()
	b.Cleanup(sk.Close)
	tr := newTransport()
	cfg.endpoint, cfg.transport = sk.URL(), tr
	c, err := s.new(cfg)
	if err != nil {
		b.Fatalf("%s: new client: %v", s.name, err)
	}
	b.Cleanup(func() {
		sk.Release()
		_ = c.Close()
		tr.CloseIdleConnections()
	})
	return sk, c
}
