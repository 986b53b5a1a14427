// swift-tools-version:6.1
// libFuzzer targets for the code that reads untrusted files: the image decoders and the Keras
// weight-file reader. A package of its own so the sanitizer flags never reach the normal build;
// scripts/fuzz.sh builds and runs it.
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, which depends on where the repository was
// cloned; read it from this file's location instead of spelling it.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let rootPackage = root.lastPathComponent

let package = Package(
    name: "keras-features-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(path: "..")],
    targets: [
        // Declares LLVMFuzzerRunDriver; see its shim.h for why the targets need it.
        .systemLibrary(name: "CLibFuzzer"),
        .executableTarget(
            name: "FuzzImages",
            dependencies: ["CLibFuzzer", .product(name: "Images", package: rootPackage)]),
        .executableTarget(
            name: "FuzzWeights",
            dependencies: ["CLibFuzzer", .product(name: "WeightLoader", package: rootPackage)]),
    ]
)
