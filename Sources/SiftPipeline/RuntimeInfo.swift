import Foundation
import SiftKernels

/// What this build of Sift is and which kernels it runs here: `sift --version` prints it, benchmarks record it.
public enum RuntimeInfo {
    /// The release of the command-line tool and library.
    public static let version = "0.8.0"

    /// The CPU's model name (from /proc/cpuinfo on Linux; "unknown CPU" elsewhere).
    public static let cpuModel: String = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let colon = line.firstIndex(of: ":") else { return "unknown CPU" }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }()

    /// The kernel tier this process runs and why, the CPU features it rests on, and each precision's kernel.
    public static var kernels: String { KernelTier.summary }

    /// `sift --version`: the release, then the CPU and kernels.
    public static var versionText: String { "sift \(version)\nCPU: \(cpuModel)\n\(kernels)" }

    /// For a process that keeps every core busy with its own workers (a server): OpenBLAS, which only runs the
    /// small dense-search products then, gets one thread, because its idle threads spin (sched_yield) after each call
    /// and take a core from the encoder (measured with `sift serve`: 275 → 313 questions/s). On the OpenBLAS kernel
    /// tier the encoder itself runs on OpenBLAS, which then keeps its threads.
    public static func useSingleThreadedBLASForSmallProducts() {
        if KernelTier.active != .openblas { Gemm.threadCount = 1 }
    }

    /// The problem with `SIFT_KERNELS`, if it names no tier (the kernels then ignore it; the CLI refuses to run).
    public static var kernelTierProblem: String? {
        if case .failure(let error) = KernelTier.requested { return error.description }
        return nil
    }
}
