import { sandboxAction } from "./local-sandbox.js";
import { taskAction } from "./run.js";

export default taskAction(sandboxAction);
