import {it} from "vitest"; it("t", () => { console.log("CORE-AT", Date.now()); });
