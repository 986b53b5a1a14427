import ArgumentParser
import Backbones
import WeightLoader

/// The options that pick a published model, shared by every subcommand that takes --model.
struct ModelOptions: ParsableArguments {
    @Option(help: "The model (see `extract models`), e.g. resnet50, mobilenetv2, efficientnetb0.")
    var model: String?

    @Option(help: "Width multiplier of MobileNet models (default 1.0).")
    var alpha: Double?

    @Option(help: "Input size of the MobileNet v1/v2 weight file (default 224).")
    var rows: Int?

    @Flag(help: "The minimalistic MobileNetV3 variant.")
    var minimalistic = false

    @Flag(
        help:
            "The model with its ImageNet classifier (include_top=True, the published top weights): class probabilities instead of features."
    )
    var includeTop = false

    @Flag(
        help:
            "Compute every convolution by im2col + GEMM, Keras' own summation order, instead of Winograd for stride-1 3×3 ones (2–3× slower on VGG16, ~20 % on ResNet50; the features differ by ~1e-7 of their largest value)."
    )
    var noWinograd = false

    /// An unknown --model is a bad command line (64), found before anything is read.
    func validate() throws {
        if let model {
            do { _ = try ModelSelection.family(model) } catch { throw ValidationError(String(describing: error)) }
        }
    }

    var planOptions: CompiledGraph.Options { CompiledGraph.Options(winograd: !noWinograd) }

    /// The manifest entry meant, or nil when no --model was given.
    func entry() throws -> WeightsEntry? {
        guard let model else { return nil }
        return try ModelSelection(
            name: model, alpha: alpha, rows: rows, minimalistic: minimalistic, includeTop: includeTop
        ).resolve()
    }
}
