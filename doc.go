// Package analytics is a client for the Customer.io Data Pipelines (CDP)
// API: it sends people, events and objects to Customer.io from Go
// services, scripts and tests.
//
// Create one Client at start-up with New, share it between goroutines, send
// messages with Enqueue, and call Close before the program exits:
//
//	client, err := analytics.New(os.Getenv("CDP_API_KEY"), analytics.WithRegion(analytics.RegionEU))
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer client.Close()
//
//	err = client.Enqueue(analytics.Track{
//		UserID:     "42",
//		Event:      "Course Started",
//		Properties: analytics.Properties{"title": "Intro to Customer.io"},
//	})
//
// Enqueue validates and encodes the message at once and never waits on the
// network; a background goroutine sends messages in batches, retrying
// failures. Flush waits for everything enqueued so far; Shutdown and Close
// deliver the rest and stop the client. Every message that is not
// delivered is counted in Stats, logged, passed to the WithCallback
// function, and reported by the next Flush, Shutdown or Close.
//
// # Messages
//
// The core calls are Identify (create or update a person), Track (an
// event), Page, Screen, Group (create or update an object and relate a
// person to it) and Alias (merge two people).
//
// # Typed helpers
//
// Besides the core calls there is one typed helper per event of the
// specification and per Customer.io action: a struct that is itself a
// Message, sent as a track call with the event name the specification
// gives, byte for byte. The Customer.io actions are DeletePerson ("User
// Deleted"), SuppressPerson, UnsuppressPerson, CreateOrUpdateDevice,
// DeleteDevice, DeleteRelationship, DeleteObject, ReportDeliveryEvent and
// ReportContentEvent; creating or updating a person or an object and
// merging people are Identify, Group and Alias. The semantic events
// (ecommerce, video, email, mobile lifecycle, live chat, A/B tests) are
// named after the event: OrderCompleted, VideoPlaybackStarted,
// EmailMarkedAsSpam, ApplicationInstalled, ExperimentViewed and so on.
//
// Each helper has UserID and AnonymousID (and Email where Customer.io lets
// a person be named by email), one field per documented property, sent
// under the specification's key (SKU as "sku"), Extra for other properties
// (a field that is set wins over the same key in Extra), and Timestamp,
// Context, Integrations and MessageID as in Track. Enqueue checks what the
// specification requires: required fields, documented values (such as
// DeviceTypeIOS), ranges (a video's sound is 0 to 100). Its error names the
// event and the field's wire path, such as properties.products[1].price.
// The helpers are generated, by go generate, from the catalog of the
// specification in internal/catalog.
//
// # Explicit zero values
//
// An empty string field of a helper is not sent. Numbers, integers and
// booleans are pointers, so that a zero that means something is sent (the
// price of a free item, playback position 0, full_screen false) while nil
// is not sent. Ptr makes the pointers:
//
//	err := client.Enqueue(analytics.OrderCompleted{
//		UserID: "42",
//		Products: []analytics.Product{
//			{ProductID: "gift-wrap", Price: analytics.Ptr(0.0)}, // "price": 0
//			{ProductID: "sku-1"},                              // no price
//		},
//	})
//
// Nil slices and maps and zero times are not sent either. To send null (a
// video's total_length on a livestream), leave the field nil and set the
// key to nil in Extra.
//
// # Limits
//
// The API drops, with a 200 answer, a message over 32 KB or a request over
// 500 KB. The client never sends either: Enqueue rejects a message over
// MaxMessageBytes with ErrMessageTooLarge, and batches are cut before they
// exceed MaxBatchBytes.
//
// # Shaping what you send
//
// WithDefaultContext merges a context into every message. WithTransform
// passes every message, as an Envelope, through functions that may change,
// redact or drop it (RedactKeys, DropEvents, SampleEvents, AnonymizeIP, or
// a function of one's own) before it is validated and encoded; a transform
// that panics refuses its message instead of letting it through.
// Middleware (or ContextFromRequest) takes an HTTP request's IP address,
// trusting forwarding headers only from the proxies it is given, user
// agent, locale and page, for EnqueueContext to merge into the messages
// sent on the request's behalf. WithOutput writes messages as lines of
// JSON instead of sending them, for development and for hosts with no
// route to the API.
package analytics
