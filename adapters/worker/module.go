package worker

import "go.uber.org/fx"

// Module starts and stops the worker with the application.
var Module = fx.Module("worker",
	fx.Provide(New),
	fx.Invoke(func(lc fx.Lifecycle, w *Worker) { lc.Append(fx.StartStopHook(w.Start, w.Stop)) }),
)
