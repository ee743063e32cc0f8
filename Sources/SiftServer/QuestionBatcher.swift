import Foundation
import SiftCore
import SiftPipeline

/// Micro-batching for concurrent questions. Requests put their question in a bounded queue; one batch worker
/// takes up to `server.max_batch` waiting questions with the same switches and runs the batch stages once for all
/// of them (one embedding call, one pass of each retriever: `PipelineRunner.retrieveBatch`). Questions that are
/// re-ranked finish (`PipelineRunner.complete`) on a pool of `server.rerank_workers` threads, so the next batch
/// is embedded meanwhile; the others finish on the batch worker.
///
/// `server.batch_workers` workers (2 by default) take turns: while one reads its batch's passages and highlights
/// them (single-threaded work), the other embeds the next batch on the encoder, which uses every core and runs one
/// batch at a time.
///
/// When the worker is idle, the first question waits up to `server.batch_wait_ms` for company; under load the
/// worker is busy, and the next batch gathers while the current one runs, so no time is spent waiting at all.
/// A full queue refuses new questions at once (503). A request that times out is answered 504 and its question, if
/// still waiting, is dropped when the worker reaches it.
final class QuestionBatcher: @unchecked Sendable {
    private let runner: PipelineRunner
    private let settings: ServerConfig
    private let metrics: ServerMetrics
    private let log: @Sendable (String) -> Void
    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var waiting: [Job] = []
    private var stopped = false
    private let finishers = OperationQueue()

    /// A waiting question and the request's continuation, answered once (by the batch or by the timeout).
    final class Job: Sendable {
        let question: String
        let options: AskOptions
        let reply = OnceContinuation<AskResult>()

        init(question: String, options: AskOptions) {
            self.question = question
            self.options = options
        }

        /// True until the job is answered or has timed out.
        var isOpen: Bool { reply.isOpen }

        func resolve(_ result: Result<AskResult, any Error>) { reply.resolve(result) }
    }

    init(runner: PipelineRunner, settings: ServerConfig, metrics: ServerMetrics, log: @escaping @Sendable (String) -> Void) {
        self.runner = runner
        self.settings = settings
        self.metrics = metrics
        self.log = log
        finishers.maxConcurrentOperationCount = settings.rerankWorkers
        finishers.name = "sift.rerank"
        for worker in 0..<settings.batchWorkers {
            let thread = Thread { [weak self] in self?.work() }
            thread.name = "sift.batch.\(worker)"
            thread.start()
        }
    }

    /// Stops the worker once the queue is empty (questions already waiting are still answered).
    func stop() {
        condition.lock(); stopped = true; condition.broadcast(); condition.unlock()
    }

    /// Questions waiting for a batch.
    var depth: Int { condition.lock(); defer { condition.unlock() }; return waiting.count }

    /// The answers to `question`, through the next batch that takes it. Throws `ServerError` 503 when the queue is
    /// full and 504 after `server.timeout_ms`; a stage failure comes back as the runner threw it.
    func ask(_ question: String, options: AskOptions) async throws -> AskResult {
        let job = Job(question: question, options: options)
        return try await withCheckedThrowingContinuation { continuation in
            job.reply.attach(continuation)
            condition.lock()
            if waiting.count >= settings.maxQueue {
                condition.unlock()
                job.resolve(.failure(ServerError.overloaded(queue: settings.maxQueue)))
                return
            }
            waiting.append(job)
            metrics.queueDepth.set(Double(waiting.count))
            condition.signal()
            condition.unlock()
            let timeout = settings.timeoutMilliseconds
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(timeout)) {
                job.resolve(.failure(ServerError.timedOut(milliseconds: timeout)))
            }
        }
    }

    // MARK: The batch worker

    private func work() {
        while let batch = nextBatch() {
            run(batch)
        }
    }

    /// Blocks until questions wait, lets a lone question wait `batch_wait_ms` for others, then takes up to
    /// `max_batch` open jobs sharing the first one's switches. Nil once stopped and drained.
    private func nextBatch() -> [Job]? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            while waiting.isEmpty {
                if stopped { return nil }
                condition.wait()
            }
            if waiting.count < settings.maxBatch && settings.batchWaitMilliseconds > 0 {
                let deadline = Date().addingTimeInterval(Double(settings.batchWaitMilliseconds) / 1000)
                while waiting.count < settings.maxBatch && !stopped && condition.wait(until: deadline) {}
            }
            // Another worker may have taken them while this one waited.
            guard let options = waiting.first?.options else { continue }
            var batch: [Job] = []
            var rest: [Job] = []
            for job in waiting {
                if !job.isOpen { continue }
                if batch.count < settings.maxBatch && job.options == options { batch.append(job) } else { rest.append(job) }
            }
            waiting = rest
            metrics.queueDepth.set(Double(waiting.count))
            if !batch.isEmpty { return batch }
        }
    }

    private func run(_ batch: [Job]) {
        metrics.batchSize.record(Double(batch.count))
        let retrieved: [RetrievedQuestion]
        do {
            // A generation committed by `sift index` in another process is picked up here, before the batch.
            if try runner.reloadIndexIfChanged() {
                metrics.reloads.increment()
                log("index reloaded: generation \(runner.indexGeneration.map(String.init) ?? "?")")
            }
            retrieved = try runner.retrieveBatch(batch.map(\.question), options: batch[0].options)
        } catch {
            for job in batch { job.resolve(.failure(error)) }
            return
        }
        for (job, question) in zip(batch, retrieved) {
            let finish: @Sendable () -> Void = { [runner, metrics] in
                guard job.isOpen else { return }
                do {
                    let result = try runner.complete(question)
                    metrics.record(stages: result.timings)
                    metrics.indexGeneration.set(Double(result.generation))
                    job.resolve(.success(result))
                } catch {
                    job.resolve(.failure(error))
                }
            }
            // The cross-encoder finishes on the pool; the rest is cheap, and the embedder's kernels already use every
            // core, so finishing it here is faster than contending with the next batch (measured: 240 vs 200 q/s).
            if question.reranks { finishers.addOperation(finish) } else { finish() }
        }
    }
}
