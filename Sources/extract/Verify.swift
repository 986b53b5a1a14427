import ArgumentParser
import Backbones
import FeatureFiles
import Features
import Foundation

/// `extract verify`: does our port give what Keras gave, on the user's own weights and inputs?
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare the model's outputs with Keras' on inputs you saved (.npz).",
        discussion: """
            The .npz holds `inputs`, the model's input batch (N, H, W, 3) exactly as given to \
            Keras' predict (already preprocessed), and one or more Keras outputs of the same \
            weights: `none` (the feature map, pooling=None), `avg`, `max` (pooling="avg"/"max") \
            and `layer_NAME` (Model(m.input, m.get_layer("NAME").output)); for your own saved \
            model run whole (--weights alone), `output` is model.predict's. For each, prints the \
            max absolute error, that error over max|keras|, the max element-wise relative error \
            and the cosine similarity; exits 1 when one is beyond tolerance \
            (max|ours - keras| <= tolerance * max|keras| and cosine >= 0.99999).

            Making the file in Python:
              x = preprocess_input(images.astype("float32"))
              np.savez("ref.npz", inputs=x, avg=keras_model_with_pooling_avg.predict(x))

            Example:
              extract verify ref.npz --model resnet50 --weights my_resnet50.h5
            """
    )

    @Argument(help: ArgumentHelp("The .npz of inputs and Keras outputs.", valueName: "reference"))
    var reference: String

    @OptionGroup var selection: ModelOptions

    @Option(
        help: ArgumentHelp(
            "The weights the Keras outputs were computed with (default: the cached published file).", valueName: "path")
    )
    var weights: String?

    @Option(help: "Allowed max|ours - keras| as a fraction of max|keras|.")
    var tolerance: Double = 1e-4

    @Option(help: "Images run through the model at once (default: the CPU count); the results do not depend on it.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Also print where the time goes: seconds per image by kernel and the slowest layers (one thread).")
    var profile = false

    @Option(help: "With --profile, how many of the slowest layers to list (0: every step, in time order).")
    var profileSteps = 15

    func validate() throws {
        if selection.model == nil && weights == nil {
            throw ValidationError("say which model: --model NAME or --weights FILE")
        }
        if selection.includeTop { throw ValidationError("verify compares include_top=False outputs") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if profileSteps < 0 { throw ValidationError("--profile-steps must be 0 (all) or more") }
    }

    func run() async throws {
        var failed = false
        do {
            let arrays = try Npz.read(reference)
            guard let inputs = arrays["inputs"] else {
                throw NpyError.malformed(
                    reference, "no `inputs` array (has \(arrays.keys.sorted().joined(separator: ", ")))")
            }
            guard inputs.shape.count == 4, inputs.shape[3] == 3 || inputs.shape[3] == 1 else {
                throw NpyError.malformed(reference, "`inputs` must be (N, H, W, 3) or (N, H, W, 1), is \(inputs.shape)")
            }
            let outputs = arrays.keys.filter { $0 != "inputs" }.sorted()
            if outputs.isEmpty {
                throw NpyError.malformed(reference, "no Keras outputs (none, avg, max or layer_NAME) beside `inputs`")
            }
            // Opened, detected and bound once; each output is planned from the same weights.
            // Released once the last output is planned, so the arrays are not kept beside the
            // plan while it is timed (as one output's run would not keep them).
            var loaded: LoadedModel? = try await LoadedModel.load(
                ModelRequest(
                    model: selection.model, alpha: selection.alpha, rows: selection.rows,
                    minimalistic: selection.minimalistic, weightsPath: weights,
                    inputSize: InputSize(height: inputs.shape[1], width: inputs.shape[2])),
                download: false)
            print(
                "output".padding(toLength: 34, withPad: " ", startingAt: 0)
                    + "shape               max|keras|  max abs err  err/max|keras|  max rel err  cosine         images/s  "
            )
            for key in outputs {
                let expected = arrays[key]!
                let (pooling, layer): (GlobalPooling, String?) =
                    key.hasPrefix("layer_")
                    ? (.none, String(key.dropFirst(6))) : (GlobalPooling(rawValue: key) ?? .none, nil)
                if !key.hasPrefix("layer_") && GlobalPooling(rawValue: key) == nil && key != "output" {
                    throw NpyError.malformed(
                        reference, "unknown output `\(key)`: name outputs output, none, avg, max or layer_NAME")
                }
                guard loaded != nil else { break }
                let extractor = try FeatureExtractor(
                    key == outputs.last ? loaded.take()! : loaded!, pooling: pooling, layer: layer,
                    preprocess: PreprocessMode.none, options: selection.planOptions)
                // The model alone, inputs already in memory: what `scripts/bench.py` compares with
                // TensorFlow's and ONNX Runtime's predict.
                let start = ContinuousClock.now
                let ours = try extractor.features(inputs.values, threads: threads)
                let seconds = (ContinuousClock.now - start) / .seconds(1)
                guard ours.count == expected.values.count else {
                    throw NpyError.malformed(
                        reference,
                        "`\(key)` is \(expected.shape); the model gives (\(inputs.shape[0]), \(extractor.model.outputShape.dimensions.map(String.init).joined(separator: ", ")))"
                    )
                }
                let a = Agreement(ours: ours, keras: expected.values)
                let ok = a.passes(tolerance: tolerance)
                failed = failed || !ok
                print(
                    key.padding(toLength: 34, withPad: " ", startingAt: 0)
                        + "\(expected.shape)".padding(toLength: 20, withPad: " ", startingAt: 0)
                        + String(
                            format: "%-12.4g%-13.3e%-16.3e%-13.3e1-%-13.1e%-10.1f", a.maxKeras, a.maxAbsError,
                            a.scaledError, a.maxRelativeError, 1 - a.cosine, Double(inputs.shape[0]) / seconds)
                        + (ok ? "ok" : "BEYOND TOLERANCE"))
                if profile && key == outputs.last {
                    try printProfile(extractor.model, inputs.values, images: inputs.shape[0])
                }
            }
        } catch {
            throw fail(error)
        }
        if failed {
            FileHandle.standardError.write(
                Data(
                    "error: outputs differ from Keras beyond tolerance \(tolerance) · max|keras| (or cosine < 0.99999)\n"
                        .utf8))
            throw ExitCode(1)
        }
    }

    /// Per-kernel totals and the `profileSteps` slowest steps (0: all), in ms per image.
    private func printProfile(_ model: CompiledGraph, _ inputs: [Float], images: Int) throws {
        let seconds = try model.profile(inputs)
        let total = seconds.reduce(0, +)
        let perImage = { (s: Double) in String(format: "%8.2f ms %5.1f %%", 1000 * s / Double(images), 100 * s / total)
        }
        let kinds = Dictionary(grouping: model.steps.indices) { i in
            model.summary(model.steps[i]).components(separatedBy: " (").first ?? ""
        }.mapValues { $0.reduce(0) { $0 + seconds[$1] } }
        print(String(format: "\nprofile: %.1f ms per image on one thread, by kernel:", 1000 * total / Double(images)))
        for (kind, s) in kinds.sorted(by: { $0.value > $1.value }) { print("  \(perImage(s))  \(kind)") }
        print("slowest steps:")
        let slowest = model.steps.indices.sorted(by: { seconds[$0] > seconds[$1] })
        for i in slowest.prefix(profileSteps == 0 ? slowest.count : profileSteps) {
            print("  \(perImage(seconds[i]))  \(model.steps[i].layers[0])  \(model.summary(model.steps[i]))")
        }
    }
}
