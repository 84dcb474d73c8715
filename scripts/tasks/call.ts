import { callAction } from "./lifecycle.js";
import { taskAction } from "./run.js";

export default taskAction(callAction);
