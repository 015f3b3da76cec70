import BFTCore

extension ForgedSender {
    /// PBFT: every PREPARE and COMMIT it sends claims the next replica as its signer.
    public static func pbft(context: ByzantineContext, signer: MessageSigner) -> ForgedSender {
        ForgedSender(context: context, signer: signer) { bytes, forger in
            switch bytes.first {
            case PBFTWireTag.prepare?: return (try? Prepare(decoding: bytes)).map { $0.resigned(by: forger).bytes }
            case PBFTWireTag.commit?: return (try? Commit(decoding: bytes)).map { $0.resigned(by: forger).bytes }
            default: return nil
            }
        }
    }
}

extension PBFTVote {
    /// The same vote signed by `signer`.
    func resigned(by signer: MessageSigner) -> Self {
        Self(view: view, sequence: sequence, digest: digest, signer: signer)
    }
}
