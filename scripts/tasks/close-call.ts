import { closeCallAction } from "./lifecycle.js";
import { taskAction } from "./run.js";

export default taskAction(closeCallAction);
