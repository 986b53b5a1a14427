import Dispatch
import Foundation
import WeightLoader

/// A `Graph` with its weights bound, planned once at load time by `Planner` (its passes, in
/// order: FoldZeroPadding, FoldSqueezeExciteGate, FoldBatchNorm, FoldLayerScale,
/// FuseActivation, then LowerAffine, LowerConvolutions and the `Arena` packing), and run here:
/// threads, workspaces, profiling. `run` takes any batch size and runs its images one by one
/// through arena slots sized per image.
public final class CompiledGraph: @unchecked Sendable {
    public let graph: Graph
    public let steps: [Step]
    /// Arena slot of each node value, sized in floats per image.
    let slotOf: [NodeID: Int]
    let slotSizes: [Int]

    /// The per-image shape of the (first) output.
    public var outputShape: FeatureShape { graph.shape(graph.outputNode) }
    /// The per-image shape of the (first) input.
    public var inputShape: FeatureShape { graph.shape(graph.input) }
    /// Per-image shapes of every input and output, in `graph.inputs` / `graph.outputNodes` order.
    public var inputShapes: [FeatureShape] { graph.inputs.map { graph.shape($0) } }
    public var outputShapes: [FeatureShape] { graph.outputNodes.map { graph.shape($0) } }

    /// Floats per image held by the arena (the peak of live activations, up to slot packing).
    public var arenaFloatsPerImage: Int { slotSizes.reduce(0, +) }

    /// How the planner may compute what Keras computes.
    public struct Options: Sendable, Equatable {
        /// Stride-1 3×3 convolutions by Winograd (`winogradTile`); false: im2col + GEMM for
        /// every convolution, the summation order Keras' own CPU kernels use.
        public var winograd: Bool

        public init(winograd: Bool = true) { self.winograd = winograd }
    }
    public let options: Options

    public convenience init(_ graph: Graph, weights: BoundWeights, options: Options = Options()) throws {
        try self.init(graph, weights: weights, options: options, optimizations: Planner.optimizations)
    }

    /// Planned with `optimizations` instead of the default passes (a pass's own test).
    init(_ graph: Graph, weights: BoundWeights, options: Options, optimizations: [PlannerPass]) throws {
        self.graph = graph
        self.options = options
        let (steps, arena) = try Planner.plan(graph, weights: weights, options: options, optimizations: optimizations)
        self.steps = steps
        (slotOf, slotSizes) = (arena.slotOf, arena.slotSizes)
    }

    /// The buffers one thread needs to run images: the arena slots and the im2col scratch.
    /// Kept and reused from image to image, so their pages are faulted in once per thread, not
    /// once per image.
    public final class Workspace: @unchecked Sendable {
        let arena: [UnsafeMutablePointer<Float>]
        let scratch: UnsafeMutablePointer<Float>

        init(slotSizes: [Int], scratchCount: Int) {
            arena = slotSizes.map { UnsafeMutablePointer<Float>.allocate(capacity: max($0, 1)) }
            scratch = .allocate(capacity: max(scratchCount, 1))
        }

        deinit {
            arena.forEach { $0.deallocate() }
            scratch.deallocate()
        }
    }

    /// Floats of im2col scratch the largest convolution needs.
    private var scratchCount: Int {
        steps.reduce(0) { acc, step in
            switch step.kind {
            case .conv(let p, _, _):
                let w = step.window!
                return max(acc, Kernels.conv2dScratchCount(window: w, outChannels: p.filters, groups: p.groups))
            case .winograd(let p, let m, _, _):
                let w = step.window!
                return max(acc, Kernels.winogradScratchCount(w, outChannels: p.filters, tile: m))
            case .gatedPointwise(_, let kernel, _):
                return max(acc, kernel.storageCount)
            case .separable(let p, _, _, _):
                let w = step.window!
                return max(
                    acc,
                    Kernels.separableConv2dScratchCount(
                        window: w, depthMultiplier: p.depthMultiplier, outChannels: p.filters))
            default:
                return acc
            }
        }
    }

    public func makeWorkspace() -> Workspace {
        Workspace(slotSizes: slotSizes, scratchCount: scratchCount)
    }

    /// Idle workspaces of earlier `run` calls, taken by the next ones.
    private var pool: [Workspace] = []
    private let poolLock = NSLock()

    private func withWorkspace<R>(_ body: (Workspace) throws -> R) rethrows -> R {
        let ws = poolLock.withLock { pool.popLast() } ?? makeWorkspace()
        defer { poolLock.withLock { pool.append(ws) } }
        return try body(ws)
    }

    /// Runs `input` (N images, NHWC, `inputShape` each) and returns the output (N images,
    /// `outputShape` each), the images shared among `threads` threads, each with its own
    /// workspace. Every image runs alone, on one thread, with a single-threaded BLAS: OpenBLAS'
    /// sgemm rounds differently with another thread count or row count (measured: 19% of a
    /// 3136×576×64 product's outputs change from 1 to 2 threads), so this is what makes an
    /// image's features the same bits whatever the batch, its place in it or `threads`. On a
    /// few cores it is also faster than one image at a time on a multi-threaded BLAS: no hand-off
    /// between BLAS threads after every layer, and the layers that are not GEMMs run in parallel
    /// too.
    public func run(_ input: [Float], threads: Int = 1) throws -> [Float] {
        guard graph.inputs.count == 1, graph.outputNodes.count == 1 else {
            throw GraphError.inputCount(
                model: graph.name, inputs: graph.inputs.count, outputs: graph.outputNodes.count, given: 1)
        }
        let per = inputShape.count
        guard !input.isEmpty, input.count % per == 0 else {
            throw GraphError.inputSize(model: graph.name, expected: per, actual: input.count)
        }
        let batch = input.count / per
        let outCount = outputShape.count
        var result = [Float](repeating: 0, count: batch * outCount)
        let workers = max(1, min(threads, batch))
        Kernels.useBLASThreads(1)
        input.withUnsafeBufferPointer { x in
            result.withUnsafeMutableBufferPointer { y in
                nonisolated(unsafe) let (xs, ys) = (x.baseAddress!, y.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    withWorkspace { ws in
                        // Worker w runs images w, w + workers, ...: each output row has one writer.
                        for n in stride(from: w, to: batch, by: workers) {
                            run(image: xs + n * per, workspace: ws, output: ys + n * outCount)
                        }
                    }
                }
            }
        }
        return result
    }

    /// One image (`inputShape`) through every step in `workspace`; its `outputShape` floats are
    /// copied to `output`.
    public func run(
        image: UnsafePointer<Float>, workspace: Workspace, output: UnsafeMutablePointer<Float>
    ) {
        runImage([image], arena: workspace.arena, scratch: workspace.scratch)
        output.update(from: workspace.arena[slotOf[graph.outputNode]!], count: outputShape.count)
    }

    /// A model with several inputs or outputs: `inputs[i]` holds N images of `inputShapes[i]`
    /// each (NHWC, the same N for every input); returns one array per output, N values of
    /// `outputShapes[j]` each. Images are shared among `threads` threads as `run(_:threads:)`
    /// shares them, so each image's values are the same bits whatever the batch.
    public func run(inputs: [[Float]], threads: Int = 1) throws -> [[Float]] {
        guard inputs.count == graph.inputs.count else {
            throw GraphError.inputCount(
                model: graph.name, inputs: graph.inputs.count, outputs: graph.outputNodes.count,
                given: inputs.count)
        }
        let pers = inputShapes.map(\.count)
        let batch = (inputs.first?.count ?? 0) / max(pers.first ?? 1, 1)
        for (values, per) in zip(inputs, pers) where batch == 0 || values.count != batch * per {
            throw GraphError.inputSize(model: graph.name, expected: per, actual: values.count)
        }
        let outCounts = outputShapes.map(\.count)
        // Contiguous copies the worker threads read and write through plain pointers.
        let xs = zip(inputs, pers).map { values, _ in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: values.count)
            p.initialize(from: values, count: values.count)
            return p
        }
        let ys = outCounts.map { UnsafeMutablePointer<Float>.allocate(capacity: batch * $0) }
        defer {
            xs.forEach { $0.deallocate() }
            ys.forEach { $0.deallocate() }
        }
        let workers = max(1, min(threads, batch))
        Kernels.useBLASThreads(1)
        nonisolated(unsafe) let (inputPointers, outputPointers) = (xs, ys)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            withWorkspace { ws in
                for n in stride(from: w, to: batch, by: workers) {
                    let images = zip(inputPointers, pers).map { UnsafePointer($0 + n * $1) }
                    runImage(images, arena: ws.arena, scratch: ws.scratch)
                    for (j, out) in graph.outputNodes.enumerated() {
                        (outputPointers[j] + n * outCounts[j]).update(from: ws.arena[slotOf[out]!], count: outCounts[j])
                    }
                }
            }
        }
        return zip(ys, outCounts).map { Array(UnsafeBufferPointer(start: $0, count: batch * $1)) }
    }

    /// Seconds spent in each step (in `steps` order), summed over `input`'s images run one by
    /// one on the calling thread: where a model's time goes (`extract verify --profile`).
    public func profile(_ input: [Float]) throws -> [Double] {
        guard graph.inputs.count == 1 else {
            throw GraphError.inputCount(
                model: graph.name, inputs: graph.inputs.count, outputs: graph.outputNodes.count, given: 1)
        }
        let per = inputShape.count
        guard !input.isEmpty, input.count % per == 0 else {
            throw GraphError.inputSize(model: graph.name, expected: per, actual: input.count)
        }
        Kernels.useBLASThreads(1)
        var seconds = [Double](repeating: 0, count: steps.count)
        input.withUnsafeBufferPointer { x in
            seconds.withUnsafeMutableBufferPointer { t in
                withWorkspace { ws in
                    for n in 0..<(input.count / per) {
                        runImage(
                            [x.baseAddress! + n * per], arena: ws.arena, scratch: ws.scratch, timings: t.baseAddress!)
                    }
                }
            }
        }
        return seconds
    }
}
