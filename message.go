package analytics

import (
	"time"
)

// A Message is anything Enqueue sends: the core calls Identify, Track, Page,
// Screen, Group and Alias, and the typed helpers for the events of the
// specification, such as DeletePerson or OrderCompleted, which are track
// calls with a fixed event name and typed properties.
//
// Messages are plain values. Enqueue validates and encodes a message before
// it returns, so the caller may reuse or change its maps at once; it keeps
// nothing of the message, which can therefore stay on the caller's stack.
//
// Only this package's types are messages Enqueue accepts. A struct that
// embeds one, such as struct{ analytics.Track }, has the method by
// promotion and so satisfies Message, but Enqueue refuses it with a
// *ValidationError on the field "message": pass the embedded message.
type Message interface {
	// appendMessage validates the message and appends its JSON encoding to
	// e.buf. The method is unexported so that every Message is one this
	// package knows how to validate and encode.
	appendMessage(e *encoder) error
}

// Traits are facts about a person (identify) or an object (group): Customer.io
// attributes. Values must be representable in JSON.
type Traits map[string]any

// Properties are the details of an event, page or screen. Values must be
// representable in JSON.
type Properties map[string]any

// Integrations turns destinations on (true) or off (false) for one message;
// "All": false turns off every destination not named. A destination may
// also take an object of options.
type Integrations map[string]any

// Identify creates or updates a person and their traits (attributes).
//
// A person is named by UserID, by AnonymousID, or, for Customer.io
// Journeys, by the "email" trait alone.
//
// An identify call may also relate the person to a Customer.io Journeys
// object, as Group does: ObjectID names the object, ObjectTypeID its type
// and RelationshipAttributes describe the relationship. They are sent as
// traits.objectId, traits.objectTypeId and traits.relationshipAttributes,
// the shape of the identify example in Customer.io's Journeys destination
// page (its prose speaks of the context object, but its example, followed
// here, puts the keys in traits). A field that is set wins over the same
// key in Traits. A trait "object_type_id" or "objectTypeId", where
// Customer.io's Create or Update Person also reads the type, is checked
// as Group checks it: a string or a whole number, agreeing with
// ObjectTypeID.
type Identify struct {
	UserID      string
	AnonymousID string
	Traits      Traits

	// ObjectID is the object (group) to relate the person to.
	ObjectID string
	// ObjectTypeID is the object's type, a stringified integer; empty
	// means "1". It requires ObjectID.
	ObjectTypeID string
	// RelationshipAttributes describe the person's relationship to the
	// object. They require ObjectID.
	RelationshipAttributes map[string]any

	Timestamp    time.Time
	Context      *Context
	Integrations Integrations
	MessageID    string
}

// Track records an event a person performed. Event is required (leading and
// trailing spaces are trimmed, as the API trims them), and so is UserID or
// AnonymousID.
type Track struct {
	UserID      string
	AnonymousID string
	Event       string
	Properties  Properties

	Timestamp    time.Time
	Context      *Context
	Integrations Integrations
	MessageID    string
}

// Page records a page view. UserID or AnonymousID is required.
//
// Customer.io's Journeys destination names the page by properties.url:
// set it in Properties.
type Page struct {
	UserID      string
	AnonymousID string
	// Name is the name of the page, such as "Home".
	Name string
	// Category is the page's category, such as "Docs". It is sent as the
	// top-level category and as properties.category, as Customer.io's
	// Node SDK does, and wins over a "category" key in Properties.
	Category   string
	Properties Properties

	Timestamp    time.Time
	Context      *Context
	Integrations Integrations
	MessageID    string
}

// Screen records a screen view in a mobile app. UserID or AnonymousID is
// required.
type Screen struct {
	UserID      string
	AnonymousID string
	// Name is the name of the screen, such as "Feed".
	Name       string
	Properties Properties

	Timestamp    time.Time
	Context      *Context
	Integrations Integrations
	MessageID    string
}

// Group creates or updates an object (a group: a company, an account, a
// course) and its traits, and relates the person named by UserID or
// AnonymousID to it, if one is named. GroupID is required.
//
// In Customer.io Journeys, ObjectTypeID names the type of the object: a
// stringified integer, "1" when left empty. It may be given here (sent as
// the top-level objectTypeId and as traits.object_type_id, where
// Customer.io's Create or Update Object reads it) or as the trait
// "object_type_id" or "objectTypeId", a string or a whole number; all that
// are given must agree. RelationshipAttributes describe the person's
// relationship to the object and are sent as traits.relationshipAttributes.
type Group struct {
	UserID      string
	AnonymousID string
	GroupID     string
	// ObjectTypeID is the Journeys object type, a stringified integer.
	ObjectTypeID           string
	Traits                 Traits
	RelationshipAttributes map[string]any

	Timestamp    time.Time
	Context      *Context
	Integrations Integrations
	MessageID    string
}

// Alias merges two people (the Merge People action of Customer.io
// Journeys): the person PreviousID names is merged into the one UserID
// names, which is kept. Both are required.
type Alias struct {
	// UserID is the identifier that is kept.
	UserID string
	// PreviousID is the identifier merged into UserID.
	PreviousID string

	Timestamp    time.Time
	Context      *Context
	Integrations Integrations
	MessageID    string
}

// Channel is where a message came from, sent as context.channel.
type Channel string

// The channels the API knows.
const (
	ChannelBrowser Channel = "browser"
	ChannelServer  Channel = "server"
	ChannelMobile  Channel = "mobile"
)

// Context is what is known about the circumstances of a message: the
// person's IP address, locale, device, the campaign that led to it. Every
// field is optional; empty fields are not sent. The client adds
// context.library (this library's name and Version) to every message; a
// "library" key in Extra is ignored.
type Context struct {
	// Active is whether the person is active; set it to false for an
	// identify that should not count as "last seen".
	Active    *bool
	IP        string
	Locale    string
	UserAgent string
	Channel   Channel
	Timezone  string
	// GroupID is the group (object) the message belongs to.
	GroupID  string
	Campaign *CampaignInfo
	Page     *PageInfo
	App      *AppInfo
	Device   *DeviceInfo
	OS       *OSInfo
	Network  *NetworkInfo
	Location *LocationInfo
	Screen   *ScreenInfo
	Referrer *ReferrerInfo
	// Traits are traits of the person, sent with a message that is not an
	// identify.
	Traits Traits
	// Extra holds context keys not covered by the fields above. A field
	// that is set wins over the same key in Extra.
	Extra map[string]any
}

// CampaignInfo is the marketing campaign (UTM parameters) that led to the
// message.
type CampaignInfo struct {
	Name    string
	Source  string
	Medium  string
	Term    string
	Content string
	// Extra holds other UTM parameters.
	Extra map[string]any
}

// PageInfo is the web page a message was sent from.
type PageInfo struct {
	Name     string
	Path     string
	Referrer string
	Search   string
	Title    string
	URL      string
	Keywords []string
}

// AppInfo is the app a message was sent from.
type AppInfo struct {
	Name      string
	Version   string
	Build     string
	Namespace string
}

// DeviceInfo is the device a message was sent from.
type DeviceInfo struct {
	ID            string
	Manufacturer  string
	Model         string
	Name          string
	Type          string
	Token         string
	AdvertisingID string
	// AdTrackingEnabled is sent when not nil.
	AdTrackingEnabled *bool
}

// OSInfo is the operating system of the device.
type OSInfo struct {
	Name    string
	Version string
}

// NetworkInfo is the network of the device; each field is sent when not nil.
type NetworkInfo struct {
	Bluetooth *bool
	Cellular  *bool
	WiFi      *bool
	Carrier   string
}

// LocationInfo is where the device was.
type LocationInfo struct {
	City    string
	Country string
	Region  string
	// Latitude and Longitude are sent when not nil.
	Latitude  *float64
	Longitude *float64
	Speed     *float64
}

// ScreenInfo is the screen of the device; zero fields are not sent.
type ScreenInfo struct {
	Width   int
	Height  int
	Density float64
}

// ReferrerInfo is what referred the person, such as a link or an ad.
type ReferrerInfo struct {
	Type string
	Name string
	URL  string
	Link string
	ID   string
}
