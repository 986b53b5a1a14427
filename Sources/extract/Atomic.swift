import FeatureFiles
import Foundation

/// A small text file written whole or not at all.
enum Atomic {
    static func write(_ text: String, to path: String) throws { try write(Data(text.utf8), to: path) }

    static func write(_ data: Data, to path: String) throws {
        let out = try AtomicFile(path)
        do {
            try out.write(data)
            try out.commit()
        } catch {
            out.discard()
            throw error
        }
    }
}
