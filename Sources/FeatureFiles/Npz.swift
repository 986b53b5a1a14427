// Reading numpy's .npz (a zip of .npy members, stored or deflated), through ZIPFoundation.

import Foundation
import ZIPFoundation

public enum Npz {
    /// Every member, keyed by its name without ".npy".
    public static func read(_ path: String) throws -> [String: NpyArray] {
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw NpyError.malformed(
                path, FileManager.default.fileExists(atPath: path) ? "not a .npz (zip) archive" : "no such file")
        }
        var arrays: [String: NpyArray] = [:]
        for entry in archive where entry.type == .file {
            var data = Data()
            do {
                _ = try archive.extract(entry, skipCRC32: false) { data.append($0) }
            } catch {
                throw NpyError.malformed(path, "member \(entry.path) is damaged")
            }
            let key = entry.path.hasSuffix(".npy") ? String(entry.path.dropLast(4)) : entry.path
            arrays[key] = try Npy.read(data, name: "\(path):\(entry.path)")
        }
        return arrays
    }
}
