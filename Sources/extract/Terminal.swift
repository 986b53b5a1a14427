import Features
import Foundation

/// How a job shows itself on a terminal: `extract: ` lines on stderr, progress bars for a
/// download and for the images; nothing but errors with `--quiet`.
enum Terminal {
    static func events(quiet: Bool, protect: @escaping @Sendable (RunProgress) -> Void) -> ExtractionEvents {
        guard !quiet else { return ExtractionEvents(opened: protect) }
        let images = ProgressBar(title: "extract", format: ProgressBar.items("images")).handler()
        return ExtractionEvents(
            note: { note($0) },
            download: { ProgressBar(title: $0).handler() },
            opened: protect,
            progress: { done, total in images(Int64(done), Int64(total)) })
    }
}

func note(_ line: String) {
    FileHandle.standardError.write(Data("extract: \(line)\n".utf8))
}
