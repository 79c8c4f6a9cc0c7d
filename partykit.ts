// This repository's PartyKit entry (partykit.json `main`): the package's `roomstore/partykit`
// entry, imported by its name as a user's would be (see worker.ts).
export { default } from "roomstore/partykit";
