import ArgumentParser
import Foundation
import WeightLoader

@main
struct Extract: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Turn images into CNN features with published Keras weights, without Python.",
        discussion: """
            Reads the Keras weight files you already have (the keras.applications ImageNet files \
            in ~/.keras/models/, or models you saved yourself) and tells what is inside them.

            Examples:
              extract inspect ~/.keras/models/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5
              extract inspect my_model.h5 --model mobilenetv2 --alpha 0.35
              extract models
              extract fetch --model resnet50

            Exit status: 0 success; 1 bad input (unreadable or foreign file, wrong model, hash \
            mismatch); 64 bad command line.
            """,
        subcommands: [Inspect.self, Models.self, Fetch.self]
    )
}

/// Prints a user-data error the house way, one line after `error: `, and exits 1.
func fail(_ error: Error) -> ExitCode {
    let text: String
    if let e = error as? WeightLoaderError { text = e.description } else if let e = error as? LocalizedError, let d = e.errorDescription {
        text = d
    } else { text = String(describing: error) }
    FileHandle.standardError.write(Data("error: \(text.replacingOccurrences(of: "\n", with: " "))\n".utf8))
    return ExitCode(1)
}
