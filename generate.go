package analytics

// The typed helpers (semantic.go, ecommerce.go, video.go, email.go,
// lifecycle.go, livechat.go, abtest.go), the dispatch of every message type
// (dispatch.go) and the Envelope of every helper (envelope_helpers.go) are
// generated from the catalog of the specification,
// internal/catalog/catalog.json, by internal/gen. Run go generate after
// changing either; TestHelpersGeneratedUpToDate fails until then.

//go:generate go run ./internal/gen
