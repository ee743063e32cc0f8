import Dispatch
import SiftKernelsC

/// A linear layer `Y[T×N] = act(X[T×K]·Wᵀ + b)` whose weight `W[N×K]` (HF `Linear` layout: out × in) is packed once,
/// at model load, into the panel layout of Sift's micro-kernels (Sources/SiftKernelsC).
///
/// Kernels, chosen at run time by `KernelTier.active`: `float32` runs an AVX-512 FMA kernel (14×32 register tile),
/// an AVX2 FMA kernel (6×16) or plain C; `bfloat16` rounds X and W to bf16 and runs `vdpbf16ps` with fp32
/// accumulation (about 2× faster, relative error ≲ 1e-2 of `Σ|x·w|`, MiniLM embedding cosine ≥ 0.99997 vs fp32 per
/// Benchmarks/gemm; needs AVX-512 BF16, else it runs the float32 kernel of the tier); `int8` quantizes W per output
/// feature at `init` and X per row at every call and sums exactly in int32 (`vpdpbusd` with AVX-512 VNNI or
/// AVX-VNNI, `vpmaddwd` on int16 with AVX2; without AVX-512 VNNI an AVX-512 CPU runs bf16, the portable tier fp32;
/// quantization in Sources/SiftKernelsC/include/sift_int8.h). The `openblas` tier runs OpenBLAS (`Gemm.multiply`).
/// `kernel` says which one an instance uses.
///
/// Threading: the C kernel is single-threaded and reentrant; `apply` splits rows (or, for few rows, output
/// panels) over `threads` workers with `DispatchQueue.concurrentPerform`. Those workers own the cores while
/// `apply` runs, so callers must not run OpenBLAS concurrently (keep `Gemm.threadCount` at 1 when using this).
/// An instance is immutable after `init`, so one layer may be applied from several threads at once.
public final class PackedLinear: @unchecked Sendable {
    /// Arithmetic of the weight matmul.
    public enum Precision: Sendable, CaseIterable, CustomStringConvertible {
        case float32, bfloat16
        /// Symmetric int8 weights (scale per output feature), asymmetric uint8 activations (scale and zero point
        /// per row, computed at every call), exact int32 sums. Error per output ≤ `s_x·Σ|ŵ| + ½·s_w·Σ|x|`
        /// (`s_x` = row range / 255, `s_w` = max|W_n| / 127), computed on the smoothed X and W when `inputMagnitude`
        /// is given. MiniLM embedding cosine vs fp32: see `BertEncoder` (Benchmarks/gemm/README.md).
        case int8
        public var description: String {
            switch self {
            case .float32: "float32"
            case .bfloat16: "bfloat16"
            case .int8: "int8"
            }
        }
    }

    /// Element-wise function fused into the output store.
    public enum Activation: Sendable {
        case none
        /// Exact-form GELU `x·½·(1+erf(x/√2))` (BERT's "gelu"). The fp32 kernels compute erf by Abramowitz–Stegun
        /// 7.1.26 (|error| ≤ 2e-7, keeps PyTorch parity); the bf16 and int8 kernels use a degree-8 polynomial
        /// (|error| ≤ 5e-5, far below their rounding, no division or exp in the store).
        case gelu
    }

    /// Which implementation runs. Internal so tests can force every kernel the CPU has.
    /// `.portable` is the `portable` tier's plain C fp32 kernel (bf16 and int8 requests run it too: without a bf16 or
    /// int8 dot-product instruction, rounding would only cost time). `.scalar` is the plain C reference of the layer's
    /// own precision (fp32, bf16 emulation or int8), for tests.
    enum Kernel: Sendable, Equatable, CaseIterable {
        case avx512, avx512bf16, avx512vnni, avx2, avx2int8, avxvnni, portable, scalar, openBLAS

        var name: String {
            switch self {
            case .avx512: "avx512-fp32"
            case .avx512bf16: "avx512-bf16"
            case .avx512vnni: "avx512-vnni-int8"
            case .avx2: "avx2-fp32"
            case .avx2int8: "avx2-int8"
            case .avxvnni: "avx-vnni-int8"
            case .portable: "portable-c"
            case .scalar: "scalar-c"
            case .openBLAS: "openblas"
            }
        }

        var cValue: Int32 {
            switch self {
            case .avx512: Int32(SIFT_KERNEL_AVX512)
            case .avx512bf16: Int32(SIFT_KERNEL_AVX512_BF16)
            case .avx512vnni: Int32(SIFT_KERNEL_AVX512_VNNI)
            case .avx2: Int32(SIFT_KERNEL_AVX2)
            case .avx2int8: Int32(SIFT_KERNEL_AVX2_INT8)
            case .avxvnni: Int32(SIFT_KERNEL_AVX_VNNI)
            case .portable, .scalar, .openBLAS: Int32(SIFT_KERNEL_SCALAR)
            }
        }

        /// The arithmetic the kernel itself does: what a layer asking for another precision actually gets.
        var precision: Precision? {
            switch self {
            case .avx512, .avx2, .portable, .openBLAS: .float32
            case .avx512bf16: .bfloat16
            case .avx512vnni, .avx2int8, .avxvnni: .int8
            case .scalar: nil // the layer's own
            }
        }

        /// Whether this process may run the kernel (the CPU has it and the tier allows it).
        var isSupported: Bool {
            switch self {
            case .portable, .scalar, .openBLAS: true
            default: sift_kernel_supported(cValue) != 0
            }
        }

        /// Rows per register tile: the row split between workers cuts at multiples of it.
        var tileRows: Int {
            switch self {
            case .avx2, .avx2int8, .avxvnni: 6
            default: Int(SIFT_TILE_ROWS)
            }
        }

        /// The fastest kernel the active tier (`KernelTier.active`) runs for `precision`. int8 falls back to bf16,
        /// bf16 to fp32: a CPU without AVX-512 BF16 runs a bf16 request on the fp32 kernel of its tier, which is the
        /// fastest there is for it (rounding to bf16 without a bf16 dot product would only cost time).
        static func best(for precision: Precision) -> Kernel {
            best(for: precision, tier: KernelTier.active)
        }

        /// The fastest kernel of `tier` for `precision` on this CPU (tests run each tier the CPU has).
        static func best(for precision: Precision, tier: KernelTier) -> Kernel {
            switch tier {
            case .openblas: return .openBLAS
            case .portable: return .portable
            case .avx512 where Kernel.avx512.isSupported:
                if precision == .int8, Kernel.avx512vnni.isSupported { return .avx512vnni }
                if precision != .float32, Kernel.avx512bf16.isSupported { return .avx512bf16 }
                return .avx512
            case .avx512, .avx2:
                guard Kernel.avx2.isSupported else { return .openBLAS }
                if precision == .int8 { return Kernel.avxvnni.isSupported ? .avxvnni : .avx2int8 }
                return .avx2
            }
        }
    }

    /// Output features N.
    public let outFeatures: Int
    /// Input features K.
    public let inFeatures: Int
    /// The precision asked for at `init` (the kernel may be float32 when the CPU lacks bf16, bf16 when it lacks VNNI).
    public let precision: Precision
    /// Applied to every output.
    public let activation: Activation
    /// Name of the kernel this layer runs: "avx512-vnni-int8", "avx512-bf16", "avx512-fp32", "avx-vnni-int8",
    /// "avx2-int8", "avx2-fp32", "portable-c" or "openblas".
    public var kernel: String { selected.name }

    let selected: Kernel
    /// The packed C layer; nil for the OpenBLAS path.
    private let packed: Packed?
    private let panels: Int
    /// OpenBLAS path only: W[N×K] row-major and bias[N].
    private let blasWeight: [Float]
    private let blasBias: [Float]

    /// True when Sift's own kernels run (any tier but `openblas`): single-threaded and reentrant, so callers split
    /// work over threads themselves.
    public static var isAvailable: Bool { Kernel.best(for: .float32) != .openBLAS }

    /// Kernel a float32 layer runs on this CPU: "avx512-fp32", "avx2-fp32", "portable-c" or "openblas".
    public static var activeKernel: String { Kernel.best(for: .float32).name }

    /// Kernel a layer of `precision` runs on this CPU.
    public static func activeKernel(for precision: Precision) -> String { Kernel.best(for: precision).name }

    /// Packs `weight` (`[outFeatures × inFeatures]`, row-major) and `bias` (`[outFeatures]`, nil = zero).
    /// `activation` (e.g. `.gelu` for BERT's intermediate layer) is fused into the kernel's output store.
    /// `inputMagnitude` (`[inFeatures]`, int8 only, ignored otherwise): the expected size of each input feature, e.g.
    /// `|γ| + |β|` of the LayerNorm that produces X. The int8 kernel then smooths the input (SmoothQuant, α = ½,
    /// sift_int8.h): large features are scaled down before the per-row quantization and their weights scaled up,
    /// so one outlier feature no longer coarsens every other feature's step. nil quantizes X as it is.
    public convenience init(weight: [Float], bias: [Float]?, outFeatures: Int, inFeatures: Int, precision: Precision,
                            activation: Activation = .none, inputMagnitude: [Float]? = nil) {
        self.init(weight: weight, bias: bias, outFeatures: outFeatures, inFeatures: inFeatures, precision: precision,
                  activation: activation, inputMagnitude: inputMagnitude, kernel: Kernel.best(for: precision))
    }

    /// Packs a strided weight view: element `(n, k)` is `weight[n·featureStride + k·inputStride]`.
    /// Packs a row-major weight in place from a mapped checkpoint (`featureStride` = K, `inputStride` = 1), or
    /// lets attention pack a head's keys (`n` = key position, `featureStride` = hidden size, `inputStride` = 1)
    /// for `Q·Kᵀ`, or its values transposed (`n` = head dim, `featureStride` = 1, `inputStride` = hidden size) for `P·V`.
    /// `inputMagnitude` as in the dense initializer.
    public convenience init(weight: UnsafeBufferPointer<Float>, bias: [Float]?, outFeatures: Int, inFeatures: Int,
                            featureStride: Int, inputStride: Int, precision: Precision, activation: Activation = .none,
                            inputMagnitude: [Float]? = nil) {
        let kernel = Kernel.best(for: precision)
        self.init(storage: Self.pack(weight, bias: bias, outFeatures: outFeatures, inFeatures: inFeatures,
                                     featureStride: featureStride, inputStride: inputStride, precision: precision,
                                     activation: activation, inputMagnitude: inputMagnitude, kernel: kernel),
                  outFeatures: outFeatures, inFeatures: inFeatures, precision: precision, activation: activation, kernel: kernel)
    }

    /// Row-major `[outFeatures × inFeatures]` weight with an explicit kernel (tests force each one).
    convenience init(weight: [Float], bias: [Float]?, outFeatures: Int, inFeatures: Int, precision: Precision,
                     activation: Activation = .none, inputMagnitude: [Float]? = nil, kernel: Kernel) {
        precondition(weight.count == outFeatures * inFeatures,
                     "PackedLinear: weight has \(weight.count) elements, expected \(outFeatures)×\(inFeatures)")
        let storage = weight.withUnsafeBufferPointer { w in
            Self.pack(w, bias: bias, outFeatures: outFeatures, inFeatures: inFeatures, featureStride: inFeatures,
                      inputStride: 1, precision: precision, activation: activation, inputMagnitude: inputMagnitude,
                      kernel: kernel)
        }
        self.init(storage: storage, outFeatures: outFeatures, inFeatures: inFeatures, precision: precision,
                  activation: activation, kernel: kernel)
    }

    private init(storage: Storage, outFeatures: Int, inFeatures: Int, precision: Precision, activation: Activation,
                 kernel: Kernel) {
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.precision = precision
        self.activation = activation
        self.selected = kernel
        packed = storage.packed
        panels = storage.packed?.panels ?? 0
        blasWeight = storage.blasWeight
        blasBias = storage.blasBias
    }

    /// A C layer: `sift_packed_linear` (fp32 / bf16, sift_kernels.h) or `sift_int8_linear` (sift_int8.h).
    private enum Packed {
        case float(OpaquePointer)
        case int8(OpaquePointer)

        var panels: Int {
            switch self {
            case .float(let layer): Int(sift_packed_linear_panels(layer))
            case .int8(let layer): Int(sift_int8_linear_panels(layer))
            }
        }

        func free() {
            switch self {
            case .float(let layer): sift_packed_linear_free(layer)
            case .int8(let layer): sift_int8_linear_free(layer)
            }
        }
    }

    private struct Storage {
        var packed: Packed?
        var blasWeight: [Float] = []
        var blasBias: [Float] = []
    }

    /// Packs for the C kernels, or copies W densely for the OpenBLAS path.
    private static func pack(_ weight: UnsafeBufferPointer<Float>, bias: [Float]?, outFeatures: Int, inFeatures: Int,
                             featureStride: Int, inputStride: Int, precision: Precision, activation: Activation,
                             inputMagnitude: [Float]?, kernel: Kernel) -> Storage {
        precondition(outFeatures > 0 && inFeatures > 0, "PackedLinear: bad shape \(outFeatures)×\(inFeatures)")
        precondition(featureStride >= 0 && inputStride >= 0, "PackedLinear: negative stride")
        let lastIndex = (outFeatures - 1) * featureStride + (inFeatures - 1) * inputStride
        precondition(weight.count > lastIndex, "PackedLinear: weight has \(weight.count) elements, needs > \(lastIndex)")
        if let bias { precondition(bias.count == outFeatures, "PackedLinear: bias has \(bias.count) elements, expected \(outFeatures)") }
        if let inputMagnitude {
            precondition(inputMagnitude.count == inFeatures,
                         "PackedLinear: inputMagnitude has \(inputMagnitude.count) elements, expected \(inFeatures)")
        }
        if kernel == .openBLAS {
            var dense = [Float](repeating: 0, count: outFeatures * inFeatures)
            for n in 0..<outFeatures {
                for k in 0..<inFeatures { dense[n * inFeatures + k] = weight[n * featureStride + k * inputStride] }
            }
            return Storage(packed: nil, blasWeight: dense, blasBias: bias ?? [Float](repeating: 0, count: outFeatures))
        }
        let int8 = kernel.precision == .int8 || (kernel == .scalar && precision == .int8)
        if int8 {
            precondition(inFeatures <= Int(SIFT_INT8_MAX_K), "PackedLinear: int8 needs K ≤ \(SIFT_INT8_MAX_K), got \(inFeatures)")
        }
        let bf16 = kernel.precision == .bfloat16 || (kernel == .scalar && precision == .bfloat16)
        let cPrecision = Int32(bf16 ? SIFT_PRECISION_BF16 : SIFT_PRECISION_F32)
        let cActivation = Int32(activation == .gelu ? SIFT_ACTIVATION_GELU : SIFT_ACTIVATION_NONE)
        let layer: OpaquePointer? = withOptionalBuffer(bias) { b in
            withOptionalBuffer(inputMagnitude) { m in
                // The AVX2 int8 kernel also gets an int16 copy of the weights; the plain C kernel runs any packing.
                int8 ? sift_pack_linear_int8(weight.baseAddress, featureStride, inputStride, b, Int32(outFeatures),
                                             Int32(inFeatures), cActivation, m, kernel.cValue)
                     : sift_pack_linear(weight.baseAddress, featureStride, inputStride, b, Int32(outFeatures),
                                        Int32(inFeatures), cPrecision, cActivation)
            }
        }
        guard let layer else { fatalError("PackedLinear: out of memory packing \(outFeatures)×\(inFeatures)") }
        return Storage(packed: int8 ? .int8(layer) : .float(layer))
    }

    deinit { packed?.free() }

    /// `y[rows×N] = act(x[rows×K]·Wᵀ + b)` on dense row-major buffers, split over `threads` workers.
    public func apply(_ x: UnsafeBufferPointer<Float>, rows: Int, into y: UnsafeMutableBufferPointer<Float>, threads: Int = 1) {
        apply(x, rows: rows, rowStride: inFeatures, into: y, rowStride: outFeatures, threads: threads)
    }

    /// `y = act(x·Wᵀ + b)` where row `r` of X starts at `x[r·xStride]` and row `r` of Y at `y[r·yStride]`
    /// (strides ≥ K and ≥ N; e.g. one attention head's columns inside a wider matrix).
    /// The OpenBLAS fallback ignores `threads` (OpenBLAS uses `Gemm.threadCount`).
    public func apply(_ x: UnsafeBufferPointer<Float>, rows: Int, rowStride xStride: Int,
                      into y: UnsafeMutableBufferPointer<Float>, rowStride yStride: Int, threads: Int = 1) {
        precondition(rows >= 0 && threads >= 1, "PackedLinear.apply: rows=\(rows) threads=\(threads)")
        precondition(xStride >= inFeatures && yStride >= outFeatures,
                     "PackedLinear.apply: strides \(xStride), \(yStride) below \(inFeatures), \(outFeatures)")
        if rows == 0 { return }
        precondition(x.count >= (rows - 1) * xStride + inFeatures,
                     "PackedLinear.apply: x has \(x.count) elements, needs \(rows)×\(inFeatures) (stride \(xStride))")
        precondition(y.count >= (rows - 1) * yStride + outFeatures,
                     "PackedLinear.apply: y has \(y.count) elements, needs \(rows)×\(outFeatures) (stride \(yStride))")
        guard let packed else {
            applyBLAS(x, rows: rows, xStride: xStride, into: y, yStride: yStride)
            return
        }
        precondition(rows <= Int(Int32.max), "PackedLinear.apply: \(rows) rows exceed the C kernel's Int32 range")
        run(Job(layer: packed, x: UnsafeRawPointer(x.baseAddress!), xStride: xStride, xBF16: false,
                y: UnsafeMutableRawPointer(y.baseAddress!), yStride: yStride, yBF16: false, kernel: selected.cValue),
            rows: rows, threads: threads)
    }

    /// Whether this layer can take and give bf16 activations directly (`apply(bfloat16:…)`, `apply(_:…intoBFloat16:)`):
    /// a bf16 layer on the AVX-512 BF16 kernel. Handing a layer's output to the next one as bf16 computes exactly what
    /// the fp32 hand-off does (the next layer rounds its input to bf16 the same way), minus the fp32 round trip.
    public var exchangesBFloat16: Bool { selected == .avx512bf16 }

    /// `apply` storing Y `[rows × outFeatures]` (contiguous rows) as bf16 bits, rounded to nearest even.
    /// Needs `exchangesBFloat16`.
    public func apply(_ x: UnsafeBufferPointer<Float>, rows: Int, intoBFloat16 y: UnsafeMutableBufferPointer<UInt16>,
                      threads: Int = 1) {
        applyBFloat16(x: UnsafeRawPointer(x.baseAddress), xCount: x.count, xBF16: false,
                      y: UnsafeMutableRawPointer(y.baseAddress), yCount: y.count, yBF16: true, rows: rows, threads: threads)
    }

    /// `apply` reading X `[rows × inFeatures]` (contiguous rows) as bf16 bits. Needs `exchangesBFloat16` and an even
    /// `inFeatures` (rows are read in place as bf16 pairs).
    public func apply(bfloat16 x: UnsafeBufferPointer<UInt16>, rows: Int, into y: UnsafeMutableBufferPointer<Float>,
                      threads: Int = 1) {
        applyBFloat16(x: UnsafeRawPointer(x.baseAddress), xCount: x.count, xBF16: true,
                      y: UnsafeMutableRawPointer(y.baseAddress), yCount: y.count, yBF16: false, rows: rows, threads: threads)
    }

    /// The two bf16 hand-off entry points: contiguous rows, element counts checked before the C call.
    private func applyBFloat16(x: UnsafeRawPointer?, xCount: Int, xBF16: Bool, y: UnsafeMutableRawPointer?, yCount: Int,
                               yBF16: Bool, rows: Int, threads: Int) {
        precondition(exchangesBFloat16 && (!xBF16 || inFeatures % 2 == 0),
                     "PackedLinear: bf16 activations need the bf16 kernel and, as input, an even K (\(kernel), K = \(inFeatures))")
        precondition(rows >= 0 && threads >= 1, "PackedLinear.apply: rows=\(rows) threads=\(threads)")
        if rows == 0 { return }
        precondition(xCount >= rows * inFeatures && yCount >= rows * outFeatures,
                     "PackedLinear.apply: x has \(xCount), y \(yCount) elements for \(rows)×\(inFeatures) → \(outFeatures)")
        precondition(rows <= Int(Int32.max), "PackedLinear.apply: \(rows) rows exceed the C kernel's Int32 range")
        // The C kernel reads bf16 input rows as 4-byte pairs; anything else would fail there as "out of memory".
        precondition(!xBF16 || Int(bitPattern: x) % 4 == 0, "PackedLinear.apply(bfloat16:): input must start on a 4-byte boundary")
        run(Job(layer: packed!, x: x!, xStride: inFeatures, xBF16: xBF16, y: y!, yStride: outFeatures, yBF16: yBF16,
                kernel: selected.cValue),
            rows: rows, threads: threads)
    }

    /// Runs `job` over `rows` on `threads` workers.
    private func run(_ job: Job, rows: Int, threads: Int) {
        let tileRows = selected.tileRows
        let tiles = (rows + tileRows - 1) / tileRows
        // Rows are the natural split (each chunk streams all of W); with fewer than two tiles per worker,
        // split output panels instead so small batches still use every core. Work is cut into several chunks
        // per worker, which concurrentPerform hands out dynamically: on a shared machine one core may be
        // pre-empted, and equal static halves would make the whole layer wait for it.
        if threads == 1 || (tiles < 2 * threads && panels < 2 * threads) {
            job.run(rows: 0..<rows, panels: 0..<panels)
        } else if tiles >= 2 * threads {
            let chunkTiles = max(1, min(Self.chunkRows / tileRows, tiles / (2 * threads)))
            let chunks = (tiles + chunkTiles - 1) / chunkTiles
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let first = c * chunkTiles * tileRows, end = min(rows, (c + 1) * chunkTiles * tileRows)
                job.run(rows: first..<end, panels: 0..<panels)
            }
        } else {
            DispatchQueue.concurrentPerform(iterations: panels) { p in job.run(rows: 0..<rows, panels: p..<(p + 1)) }
        }
    }

    /// int8 layers (tests): the int32 accumulators `[rows × outFeatures]` of sift_int8.h, before scaling, bias and
    /// activation, for `x` rows at stride `xStride`; one call on the selected kernel (VNNI or scalar).
    func int8Accumulators(_ x: UnsafeBufferPointer<Float>, rows: Int, rowStride xStride: Int) -> [Int32] {
        guard case .int8(let layer)? = packed else { preconditionFailure("int8Accumulators: \(kernel) is not an int8 layer") }
        precondition(rows > 0 && xStride >= inFeatures && x.count >= (rows - 1) * xStride + inFeatures,
                     "int8Accumulators: x has \(x.count) elements for \(rows) rows at stride \(xStride)")
        var acc = [Int32](repeating: 0, count: rows * outFeatures)
        let status = acc.withUnsafeMutableBufferPointer { a in
            sift_linear_int8_accumulators(layer, x.baseAddress, xStride, a.baseAddress, outFeatures, Int32(rows), 0,
                                          Int32(panels), selected.cValue)
        }
        precondition(status == 0, "int8Accumulators: sift_linear_int8_accumulators failed")
        return acc
    }

    /// Rows per dynamically scheduled chunk, at most (8 tiles of 14 rows, 18 of 6): W is re-streamed from L2/L3 per
    /// chunk, ~60 FLOP per byte of W, still compute-bound.
    static let chunkRows = 112

    /// One `sift_linear` call's arguments; the pointers live only for the duration of `apply`. X and Y are fp32, or
    /// bf16 bits where `xBF16` / `yBF16` (strides in elements either way).
    private struct Job: @unchecked Sendable {
        let layer: Packed
        let x: UnsafeRawPointer
        let xStride: Int
        let xBF16: Bool
        let y: UnsafeMutableRawPointer
        let yStride: Int
        let yBF16: Bool
        let kernel: Int32

        func run(rows: Range<Int>, panels: Range<Int>) {
            if rows.isEmpty || panels.isEmpty { return }
            let x = self.x + rows.lowerBound * xStride * (xBF16 ? 2 : 4)
            let y = self.y + rows.lowerBound * yStride * (yBF16 ? 2 : 4)
            let count = Int32(rows.count), first = Int32(panels.lowerBound), end = Int32(panels.upperBound)
            let status: Int32
            switch layer {
            case .float(let layer) where xBF16 || yBF16:
                status = sift_linear_bf16_io(layer, x, xStride, xBF16 ? 1 : 0, y, yStride, yBF16 ? 1 : 0, count, first, end)
            case .float(let layer):
                status = sift_linear(layer, x.assumingMemoryBound(to: Float.self), xStride,
                                     y.assumingMemoryBound(to: Float.self), yStride, count, first, end, kernel)
            case .int8(let layer):
                precondition(!xBF16 && !yBF16, "PackedLinear: int8 layers take and give fp32")
                status = sift_linear_int8(layer, x.assumingMemoryBound(to: Float.self), xStride,
                                          y.assumingMemoryBound(to: Float.self), yStride, count, first, end, kernel)
            }
            // Arguments were checked above, so a failure here is allocation of the per-call A buffer.
            precondition(status == 0, "PackedLinear: sift_linear failed (out of memory)")
        }
    }

    private func applyBLAS(_ x: UnsafeBufferPointer<Float>, rows: Int, xStride: Int,
                           into y: UnsafeMutableBufferPointer<Float>, yStride: Int) {
        for r in 0..<rows {
            for n in 0..<outFeatures { y[r * yStride + n] = blasBias[n] }
        }
        blasWeight.withUnsafeBufferPointer { w in
            Gemm.multiply(transB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: xStride,
                          b: w, ldb: inFeatures, beta: 1, c: y, ldc: yStride)
        }
        if activation == .gelu {
            for r in 0..<rows {
                Kernels.gelu(UnsafeMutableBufferPointer(rebasing: y[(r * yStride)..<(r * yStride + outFeatures)]), count: outFeatures)
            }
        }
    }
}

/// Calls `body` with `values`' base address, or nil when `values` is nil.
private func withOptionalBuffer<R>(_ values: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let values else { return body(nil) }
    return values.withUnsafeBufferPointer { body($0.baseAddress) }
}
