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
// # Limits
//
// The API drops, with a 200 answer, a message over 32 KB or a request over
// 500 KB. The client never sends either: Enqueue rejects a message over
// MaxMessageBytes with ErrMessageTooLarge, and batches are cut before they
// exceed MaxBatchBytes.
package analytics
