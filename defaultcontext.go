package analytics

// WithDefaultContext merges c into the context of every message, field by
// field: what the message's own Context sets wins, and c fills in the rest.
// The nested structs (Page, App, Device, …) merge field by field too, and
// the maps (Traits, Extra, Campaign.Extra) by key. context.library is
// always this library's, whatever c holds.
//
// A service sets what is true of every message it sends: its app name and
// version, a channel, a locale. The context a Middleware takes from an HTTP
// request (EnqueueContext) comes between the two: the message wins over
// it, and it wins over c.
//
// c is copied: changing it after New changes nothing. New returns an error
// if c holds a value JSON cannot represent, such as a NaN latitude or a
// func in Traits.
//
// Without transforms (WithTransform) the merge is done as the message is
// encoded, without copying either context. With transforms, they see the
// merged context in Envelope.Context.
func WithDefaultContext(c Context) Option {
	return func(cfg *config) error {
		cfg.defaultContext = cloneContext(&c)
		return nil
	}
}

// checkDefaultContext reports a default context the encoder cannot write,
// so that New, not every Enqueue, says so.
func checkDefaultContext(c *Context) error {
	if c == nil {
		return nil
	}
	e := &encoder{}
	if err := e.context(nil, c); err != nil {
		return optionError("WithDefaultContext", "%v", err)
	}
	return nil
}

// underContext returns the defaults for one message: the request's context
// r (Middleware), if any, over the client's default context d. Both are
// read-only; when both are set the result is a new Context.
func underContext(r, d *Context) *Context {
	switch {
	case r == nil:
		return d
	case d == nil:
		return r
	}
	return fillContext(cloneContext(r), d)
}

// fillContext sets the fields of dst that are empty to copies of those of
// src, field by field, nested structs included, and maps by key: the merge
// the encoder does as it writes (encoder.context), done on a Context that
// the caller owns (an Envelope's, a copy). dst may be nil; it returns dst,
// or a copy of src if dst is nil. src is not changed, and nothing of it is
// shared with the result.
func fillContext(dst, src *Context) *Context {
	if src == nil {
		return dst
	}
	if dst == nil {
		return cloneContext(src)
	}
	if dst.Active == nil {
		dst.Active = ownBool(src.Active)
	}
	fillString(&dst.IP, src.IP)
	fillString(&dst.Locale, src.Locale)
	fillString(&dst.UserAgent, src.UserAgent)
	if dst.Channel == "" {
		dst.Channel = Channel(own(string(src.Channel)))
	}
	fillString(&dst.Timezone, src.Timezone)
	fillString(&dst.GroupID, src.GroupID)
	fillMap(&dst.Traits, src.Traits)
	fillMap(&dst.Extra, src.Extra)

	// Each nested struct: a copy of src's when dst has none, else its
	// empty fields filled (cloneContext copies each one).
	if s := src.Campaign; s != nil {
		if dst.Campaign == nil {
			dst.Campaign = cloneContext(&Context{Campaign: s}).Campaign
		} else {
			d := dst.Campaign
			fillString(&d.Name, s.Name)
			fillString(&d.Source, s.Source)
			fillString(&d.Medium, s.Medium)
			fillString(&d.Term, s.Term)
			fillString(&d.Content, s.Content)
			fillMap(&d.Extra, s.Extra)
		}
	}
	if s := src.Page; s != nil {
		if dst.Page == nil {
			dst.Page = cloneContext(&Context{Page: s}).Page
		} else {
			d := dst.Page
			fillString(&d.Name, s.Name)
			fillString(&d.Path, s.Path)
			fillString(&d.Referrer, s.Referrer)
			fillString(&d.Search, s.Search)
			fillString(&d.Title, s.Title)
			fillString(&d.URL, s.URL)
			if d.Keywords == nil {
				d.Keywords = cloneStrings(s.Keywords)
			}
		}
	}
	if s := src.App; s != nil {
		if dst.App == nil {
			dst.App = cloneContext(&Context{App: s}).App
		} else {
			d := dst.App
			fillString(&d.Name, s.Name)
			fillString(&d.Version, s.Version)
			fillString(&d.Build, s.Build)
			fillString(&d.Namespace, s.Namespace)
		}
	}
	if s := src.Device; s != nil {
		if dst.Device == nil {
			dst.Device = cloneContext(&Context{Device: s}).Device
		} else {
			d := dst.Device
			fillString(&d.ID, s.ID)
			fillString(&d.Manufacturer, s.Manufacturer)
			fillString(&d.Model, s.Model)
			fillString(&d.Name, s.Name)
			fillString(&d.Type, s.Type)
			fillString(&d.Token, s.Token)
			fillString(&d.AdvertisingID, s.AdvertisingID)
			if d.AdTrackingEnabled == nil {
				d.AdTrackingEnabled = ownBool(s.AdTrackingEnabled)
			}
		}
	}
	if s := src.OS; s != nil {
		if dst.OS == nil {
			dst.OS = cloneContext(&Context{OS: s}).OS
		} else {
			fillString(&dst.OS.Name, s.Name)
			fillString(&dst.OS.Version, s.Version)
		}
	}
	if s := src.Network; s != nil {
		if dst.Network == nil {
			dst.Network = cloneContext(&Context{Network: s}).Network
		} else {
			d := dst.Network
			if d.Bluetooth == nil {
				d.Bluetooth = ownBool(s.Bluetooth)
			}
			if d.Cellular == nil {
				d.Cellular = ownBool(s.Cellular)
			}
			if d.WiFi == nil {
				d.WiFi = ownBool(s.WiFi)
			}
			fillString(&d.Carrier, s.Carrier)
		}
	}
	if s := src.Location; s != nil {
		if dst.Location == nil {
			dst.Location = cloneContext(&Context{Location: s}).Location
		} else {
			d := dst.Location
			fillString(&d.City, s.City)
			fillString(&d.Country, s.Country)
			fillString(&d.Region, s.Region)
			if d.Latitude == nil {
				d.Latitude = ownFloat(s.Latitude)
			}
			if d.Longitude == nil {
				d.Longitude = ownFloat(s.Longitude)
			}
			if d.Speed == nil {
				d.Speed = ownFloat(s.Speed)
			}
		}
	}
	if s := src.Screen; s != nil {
		if dst.Screen == nil {
			dst.Screen = cloneContext(&Context{Screen: s}).Screen
		} else {
			d := dst.Screen
			d.Width = or(d.Width, s.Width)
			d.Height = or(d.Height, s.Height)
			d.Density = or(d.Density, s.Density)
		}
	}
	if s := src.Referrer; s != nil {
		if dst.Referrer == nil {
			dst.Referrer = cloneContext(&Context{Referrer: s}).Referrer
		} else {
			d := dst.Referrer
			fillString(&d.Type, s.Type)
			fillString(&d.Name, s.Name)
			fillString(&d.URL, s.URL)
			fillString(&d.Link, s.Link)
			fillString(&d.ID, s.ID)
		}
	}
	return dst
}

// fillString sets *dst to a copy of src if *dst is empty.
func fillString(dst *string, src string) {
	if *dst == "" {
		*dst = own(src)
	}
}

// fillMap adds to *dst copies of the entries of src whose keys it lacks,
// making *dst if needed.
func fillMap[M ~map[string]any](dst *M, src M) {
	if len(src) == 0 {
		return
	}
	if *dst == nil {
		*dst = make(M, len(src))
	}
	for k := range src {
		if _, ok := (*dst)[k]; !ok {
			(*dst)[k] = cloneValue(src[k])
		}
	}
}
