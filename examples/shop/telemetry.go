package main

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/spooljobs/spool/spoolotel"
)

// telemetry is the shop's OpenTelemetry set-up: spool's metrics exported
// in Prometheus format on GET /metrics, and trace context carried in each
// job's metadata (traceparent), which the admin page shows. A real app
// would add a span exporter (OTLP) to its tracer provider.
type telemetry struct {
	inst    *spoolotel.Instrumentation
	metrics http.Handler
	close   func(context.Context) error
}

// newTelemetry builds the meter and tracer providers and spool's
// instrumentation on them. The Prometheus registry is the shop's own, not
// the process-wide default.
func newTelemetry() (*telemetry, error) {
	reg := prometheus.NewRegistry()
	// Without the otel_scope_* labels on every series: all of them come
	// from one scope, spoolotel's.
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	tp := sdktrace.NewTracerProvider()
	inst, err := spoolotel.New(spoolotel.Options{MeterProvider: mp, TracerProvider: tp})
	if err != nil {
		return nil, err
	}
	return &telemetry{
		inst:    inst,
		metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		close: func(ctx context.Context) error {
			tp.Shutdown(ctx)
			return mp.Shutdown(ctx)
		},
	}, nil
}
