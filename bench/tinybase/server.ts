// Baseline for `npm run bench`: TinyBase's own PartyKit server, unmodified, as the
// default party "main" of a `partykit dev` project (rooms at /parties/main/:room).
import { TinyBasePartyKitServer } from "tinybase/persisters/persister-partykit-server";

export default class TinyBaseRoom extends TinyBasePartyKitServer {}
