package portonev1

import "go.uber.org/fx"

// Module provides the PortOne V1 client, built from the supplied Config.
var Module = fx.Module("portonev1", fx.Provide(New))
