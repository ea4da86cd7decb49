module github.com/cdpkit/analytics-go/benchmarks

go 1.25

require (
	github.com/posthog/posthog-go v1.5.2
	gopkg.in/segmentio/analytics-go.v3 v3.1.0
)

require (
	github.com/segmentio/backo-go v1.1.0 // indirect
	github.com/xtgo/uuid v0.0.0-20140804021211-a0b114877d4c // indirect
)

// Phase 2 adds: require github.com/cdpkit/analytics-go v0.0.0 (the root
// package does not build yet). Until then this replace is inert.
replace github.com/cdpkit/analytics-go => ../
