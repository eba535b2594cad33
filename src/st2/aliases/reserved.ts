/**
 * The words st2bot's st2 command takes as subcommands (`!st2 cancel <id>`). They come before
 * alias matching, so an alias whose format starts with one is reached only by addressing the
 * bot by name (`@st2bot cancel …`); `st2bot alias lint` warns about such formats.
 */
export const ST2BOT_SUBCOMMANDS: readonly string[] = ["executions", "execution", "cancel", "rerun"];
