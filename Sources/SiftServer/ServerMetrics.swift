import Foundation
import Prometheus
import SiftPipeline

/// The server's Prometheus metrics (`GET /metrics`, text exposition format): requests by route and status, request
/// and per-stage latency, queue depth, micro-batch sizes and the index generation being served.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let queueDepth: Gauge
    let indexGeneration: Gauge
    let reloads: Counter
    let batchSize: ValueHistogram

    /// Latency buckets in seconds: 1 ms to 30 s.
    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    init() {
        queueDepth = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "sift", metricName: "queue_depth", unitName: "questions",
                                                                         helpText: "Questions waiting for a micro-batch"))
        indexGeneration = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "sift", metricName: "index", unitName: "generation",
                                                                              helpText: "Generation of the index that answered last"))
        reloads = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "sift", metricName: "index_reloads", unitName: "total",
                                                                        helpText: "New index generations picked up without a restart"))
        batchSize = registry.makeValueHistogram(descriptor: MetricNameDescriptor(namespace: "sift", metricName: "batch_size", unitName: "questions",
                                                                                  helpText: "Questions per micro-batch"),
                                                labels: [], buckets: [1, 2, 4, 8, 16, 32, 64, 128])
    }

    /// One finished request. `route` is the matched route (never the raw path, which would make a series per URL).
    func request(route: String, status: Int, seconds: Double) {
        registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "sift", metricName: "http_requests", unitName: "total",
                                                              helpText: "HTTP requests by route and status"),
                             labels: [("route", route), ("status", String(status))]).increment()
        registry.makeValueHistogram(descriptor: MetricNameDescriptor(namespace: "sift", metricName: "http_request_duration", unitName: "seconds",
                                                                     helpText: "HTTP request latency by route"),
                                    labels: [("route", route)], buckets: Self.latencyBuckets).record(seconds)
    }

    /// A question's stage timings (the batch stages' share per question).
    func record(stages timings: [StageTiming]) {
        for timing in timings.summed {
            registry.makeValueHistogram(descriptor: MetricNameDescriptor(namespace: "sift", metricName: "stage_duration", unitName: "seconds",
                                                                         helpText: "Time per question in each pipeline stage"),
                                        labels: [("stage", timing.stage.rawValue)], buckets: Self.latencyBuckets)
                .record(timing.milliseconds / 1000)
        }
    }

    /// The exposition text.
    func text() -> [UInt8] { registry.emitToBuffer() }
}
