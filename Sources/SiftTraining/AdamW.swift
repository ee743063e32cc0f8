import Foundation

/// AdamW as PyTorch's `torch.optim.AdamW` computes it (decoupled weight decay, bias-corrected moments), with
/// transformers' linear schedule with warm-up and gradient clipping by total norm: what sentence-transformers' fit
/// uses. Weight decay skips biases and LayerNorm weights (`BertParameters.Tensor.decays`).
public final class AdamW: @unchecked Sendable {
    public struct Settings: Sendable, Equatable, Codable {
        public var learningRate: Float = 2e-5
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var epsilon: Float = 1e-8
        public var weightDecay: Float = 0.01
        /// Steps of linear warm-up from 0 to the learning rate; then linear decay to 0 at `totalSteps`.
        public var warmupSteps: Int = 0
        public var totalSteps: Int = 1
        /// Gradients are scaled down to this total L2 norm when above it (0: no clipping).
        public var maxGradientNorm: Float = 1

        public init(learningRate: Float = 2e-5, weightDecay: Float = 0.01, warmupSteps: Int = 0, totalSteps: Int = 1,
                    maxGradientNorm: Float = 1, epsilon: Float = 1e-8) {
            self.learningRate = learningRate
            self.weightDecay = weightDecay
            self.warmupSteps = warmupSteps
            self.totalSteps = totalSteps
            self.maxGradientNorm = maxGradientNorm
            self.epsilon = epsilon
        }
    }

    public let settings: Settings
    let parameters: BertParameters
    /// First and second moments, in the parameters' layout.
    let firstMoment: FloatBuffer, secondMoment: FloatBuffer
    /// Updates applied so far.
    public private(set) var step = 0
    /// Weight decay per element range: (offset, count, decays).
    private let ranges: [(Int, Int, Bool)]

    public init(parameters: BertParameters, settings: Settings) {
        self.parameters = parameters
        self.settings = settings
        firstMoment = FloatBuffer(count: parameters.values.count)
        secondMoment = FloatBuffer(count: parameters.values.count)
        ranges = parameters.tensors.map { ($0.offset, $0.count, $0.decays) }
    }

    /// The learning rate of update `step` (0-based): lr·step/warmup while warming up, then lr·(total − step)/(total − warmup).
    public func learningRate(at step: Int) -> Float {
        let s = settings
        if step < s.warmupSteps { return s.learningRate * Float(step) / Float(max(1, s.warmupSteps)) }
        return s.learningRate * max(0, Float(s.totalSteps - step) / Float(max(1, s.totalSteps - s.warmupSteps)))
    }

    /// Clips the gradients (PyTorch's clip_grad_norm_: scale by max/(norm + 1e-6) when that is below 1), applies one
    /// update, and returns the gradient norm before clipping. The elements are split over `threads` workers (the
    /// norm's partial sums are added in chunk order, so the result does not depend on timing).
    @discardableResult
    public func update(threads: Int = ProcessInfo.processInfo.activeProcessorCount) -> Float {
        let g = parameters.gradients.pointer, p = parameters.values.pointer
        let m = firstMoment.pointer, v = secondMoment.pointer
        let count = parameters.values.count
        let chunks = TrainingOps.chunkCount(count, threads: threads, minimumPerChunk: 1 << 16)
        var partial = [Double](repeating: 0, count: chunks)
        partial.withUnsafeMutableBufferPointer { sums in
            let out = sums.baseAddress!
            TrainingOps.parallel(count, threads: threads, minimumPerChunk: 1 << 16) { chunk, range in
                var squares: Double = 0
                for i in range { squares += Double(g[i]) * Double(g[i]) }
                out[chunk] = squares
            }
        }
        let norm = Float(partial.reduce(0, +).squareRoot())
        let s = settings
        let clip: Float = s.maxGradientNorm > 0 ? min(1, s.maxGradientNorm / (norm + 1e-6)) : 1
        let lr = learningRate(at: step)
        step += 1
        let correction1 = 1 - pow(s.beta1, Float(step)), correction2 = 1 - pow(s.beta2, Float(step))
        let stepSize = lr / correction1, root2 = correction2.squareRoot()
        let ranges = self.ranges
        TrainingOps.parallel(count, threads: threads, minimumPerChunk: 1 << 16) { _, chunk in
            for (offset, n, decays) in ranges where offset < chunk.upperBound && offset + n > chunk.lowerBound {
                let decay: Float = decays ? 1 - lr * s.weightDecay : 1
                for i in max(offset, chunk.lowerBound)..<min(offset + n, chunk.upperBound) {
                    let grad = g[i] * clip
                    p[i] *= decay
                    m[i] = s.beta1 * m[i] + (1 - s.beta1) * grad
                    v[i] = s.beta2 * v[i] + (1 - s.beta2) * grad * grad
                    p[i] -= stepSize * m[i] / (v[i].squareRoot() / root2 + s.epsilon)
                }
            }
        }
        return norm
    }

    /// The moments and step, for a checkpoint.
    public var state: (step: Int, first: [Float], second: [Float]) { (step, firstMoment.array, secondMoment.array) }

    /// Restores a checkpoint's moments and step.
    public func restore(step: Int, first: [Float], second: [Float]) {
        precondition(first.count == firstMoment.count && second.count == secondMoment.count, "optimizer state shape")
        self.step = step
        _ = firstMoment.storage.update(fromContentsOf: first)
        _ = secondMoment.storage.update(fromContentsOf: second)
    }
}
