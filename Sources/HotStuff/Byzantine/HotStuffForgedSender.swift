import BFTCore

extension ForgedSender {
    /// HotStuff: every vote it sends claims the next replica as its voter.
    public static func hotStuff(context: ByzantineContext, signer: MessageSigner) -> ForgedSender {
        ForgedSender(context: context, signer: signer) { bytes, forger in
            guard case .vote(let v)? = try? HotStuffMessage(decoding: bytes) else { return nil }
            return HotStuffMessage.vote(Vote(view: v.view, block: v.block, signer: forger)).bytes
        }
    }
}
