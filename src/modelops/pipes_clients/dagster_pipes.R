# A small Dagster Pipes client for R (base R + jsonlite), following the protocol of the
# Python `dagster_pipes` package (protocol version 0.1). Use it in a script that Dagster
# launches with PipesSubprocessClient (or PipesK8sClient):
#
#   source(Sys.getenv("MODELOPS_R_PIPES_CLIENT"))
#   pipes_run(function(ctx) {
#     pipes_log(ctx, paste("training on", ctx$extras$train_path))
#     pipes_report_materialization(ctx, metadata = list(rows = 700L, aic = 712.4,
#       note = pipes_metadata_value("**ok**", "md")))
#     pipes_report_check(ctx, "runtime_fit_healthy", passed = TRUE)
#   })
#
# pipes_run() closes the session; an R error inside main() reaches Dagster (message and call)
# and the script exits with status 1. R warnings are forwarded as WARNING log lines.
# Metadata types are inferred (integer -> int, double -> float, logical -> bool, string ->
# text, anything else -> json) unless given with pipes_metadata_value(value, type).
# Outside Dagster (no DAGSTER_PIPES_CONTEXT), set MODELOPS_PIPES_EXTRAS to a JSON file of
# extras: messages are then printed to stderr as JSON lines.

PIPES_PROTOCOL_VERSION <- "0.1"
PIPES_LOG_LEVELS <- c("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
PIPES_METADATA_TYPES <- c(
  "__infer__", "text", "url", "path", "notebook", "json", "md", "float", "int", "bool",
  "dagster_run", "asset", "null", "table", "table_schema", "table_column_lineage", "timestamp"
)

# R < 4.4 has no %||% in base.
if (!exists("%||%", mode = "function", envir = baseenv())) {
  `%||%` <- function(a, b) if (is.null(a)) b else a
}

# An empty JSON object: jsonlite writes an unnamed empty list as [].
.pipes_empty_object <- function() structure(list(), names = character(0))

.pipes_to_json <- function(value) {
  as.character(jsonlite::toJSON(value, auto_unbox = TRUE, null = "null", na = "null",
                                digits = NA))
}

.pipes_from_json <- function(text) {
  jsonlite::fromJSON(text, simplifyVector = TRUE, simplifyDataFrame = FALSE,
                     simplifyMatrix = FALSE)
}

# Bootstrap params: base64 of zlib-compressed JSON (memDecompress's "gzip" reads zlib too).
pipes_decode_param <- function(value) {
  compressed <- jsonlite::base64_dec(value)
  .pipes_from_json(rawToChar(memDecompress(compressed, type = "gzip")))
}

.pipes_load_context <- function(params) {
  if (!is.null(params$path)) {
    return(.pipes_from_json(readChar(params$path, file.info(params$path)$size, useBytes = TRUE)))
  }
  if (!is.null(params$data)) return(params$data)
  stop("Dagster Pipes context params need 'path' or 'data', got: ", .pipes_to_json(params))
}

# Returns a function(line) writing one message line where Dagster's message reader looks.
.pipes_message_sink <- function(params) {
  if (!is.null(params$path)) {
    path <- params$path
    return(function(line) {
      connection <- file(path, open = "ab")
      on.exit(close(connection))
      writeBin(charToRaw(paste0(enc2utf8(line), "\n")), connection)
    })
  }
  stream <- params$stdio %||% params$buffered_stdio
  if (identical(stream, "stderr")) return(function(line) cat(line, "\n", sep = "", file = stderr()))
  if (identical(stream, "stdout")) return(function(line) cat(line, "\n", sep = "", file = stdout()))
  stop("Dagster Pipes message params need 'path' or 'stdio', got: ", .pipes_to_json(params))
}

.pipes_write <- function(ctx, method, params) {
  if (isTRUE(ctx$closed)) stop("Cannot send a Dagster Pipes message after the session is closed.")
  message <- list(`__dagster_pipes_version` = PIPES_PROTOCOL_VERSION, method = method,
                  params = params)
  ctx$write_line(.pipes_to_json(message))
  invisible(NULL)
}

#' Open the Pipes session: read the context, send "opened". Returns an environment with
#' extras, asset_key (NULL unless exactly one asset), asset_keys, run_id, job_name,
#' partition_key, retry_number and code_version.
pipes_open <- function() {
  encoded_context <- Sys.getenv("DAGSTER_PIPES_CONTEXT")
  if (nzchar(encoded_context)) {
    data <- .pipes_load_context(pipes_decode_param(encoded_context))
    write_line <- .pipes_message_sink(pipes_decode_param(Sys.getenv("DAGSTER_PIPES_MESSAGES")))
  } else {
    extras_file <- Sys.getenv("MODELOPS_PIPES_EXTRAS")
    if (!nzchar(extras_file)) {
      stop("Not launched by Dagster Pipes (no DAGSTER_PIPES_CONTEXT); to run by hand set ",
           "MODELOPS_PIPES_EXTRAS to a JSON file of extras.")
    }
    extras <- .pipes_from_json(readChar(extras_file, file.info(extras_file)$size, useBytes = TRUE))
    data <- list(asset_keys = list("standalone"), run_id = "standalone", extras = extras)
    write_line <- function(line) cat(line, "\n", sep = "", file = stderr())
  }
  ctx <- new.env(parent = emptyenv())
  ctx$extras <- data$extras %||% .pipes_empty_object()
  ctx$asset_keys <- unlist(data$asset_keys)
  ctx$asset_key <- if (length(ctx$asset_keys) == 1) ctx$asset_keys[[1]] else NULL
  ctx$run_id <- data$run_id
  ctx$job_name <- data$job_name
  ctx$partition_key <- data$partition_key
  ctx$retry_number <- data$retry_number %||% 0L
  ctx$code_version <- if (!is.null(ctx$asset_key)) data$code_version_by_asset_key[[ctx$asset_key]]
  ctx$write_line <- write_line
  ctx$materialized <- character(0)
  ctx$closed <- FALSE
  .pipes_write(ctx, "opened", list(extras = .pipes_empty_object()))
  ctx
}

#' Send a log line to the Dagster run's event log.
pipes_log <- function(ctx, message, level = "INFO") {
  level <- toupper(level)
  if (!level %in% PIPES_LOG_LEVELS) stop("pipes_log: level must be one of ", toString(PIPES_LOG_LEVELS))
  .pipes_write(ctx, "log", list(message = paste(message, collapse = "\n"), level = level))
}

#' A metadata value with an explicit Dagster type ("md", "json", "url", "path", ...).
pipes_metadata_value <- function(value, type) {
  if (!type %in% PIPES_METADATA_TYPES) stop("pipes_metadata_value: unknown type '", type, "'")
  if (type == "json" && is.atomic(value) && is.null(names(value))) value <- as.list(value)
  structure(list(raw_value = value, type = type), class = "pipes_metadata_value")
}

.pipes_metadata_entry <- function(value) {
  if (inherits(value, "pipes_metadata_value")) return(unclass(value))
  if (is.null(value) || (is.atomic(value) && length(value) == 1 && is.na(value))) {
    return(list(raw_value = NULL, type = "null"))
  }
  if (is.atomic(value) && length(value) == 1 && is.null(names(value))) {
    if (is.logical(value)) return(list(raw_value = value, type = "bool"))
    if (is.integer(value) && !is.factor(value)) return(list(raw_value = value, type = "int"))
    if (is.double(value)) {
      if (!is.finite(value)) return(list(raw_value = format(value), type = "text"))
      return(list(raw_value = value, type = "float"))
    }
    return(list(raw_value = as.character(value), type = "text"))
  }
  unclass(pipes_metadata_value(value, "json"))
}

.pipes_metadata <- function(metadata, what) {
  if (length(metadata) == 0) return(NULL)
  if (is.null(names(metadata)) || any(!nzchar(names(metadata)))) {
    stop(what, ": metadata must be a named list")
  }
  lapply(metadata, .pipes_metadata_entry)
}

.pipes_asset_key <- function(ctx, asset_key, what) {
  key <- asset_key %||% ctx$asset_key
  if (is.null(key)) {
    stop(what, ": this step has ", length(ctx$asset_keys), " assets; pass asset_key")
  }
  if (!key %in% ctx$asset_keys) stop(what, ": asset '", key, "' is not in this step")
  key
}

#' Report the asset's materialization (once per asset) with its metadata.
pipes_report_materialization <- function(ctx, metadata = list(), data_version = NULL,
                                         asset_key = NULL) {
  key <- .pipes_asset_key(ctx, asset_key, "pipes_report_materialization")
  if (key %in% ctx$materialized) stop("Asset '", key, "' was already reported as materialized")
  if (!is.null(data_version)) data_version <- as.character(data_version)
  .pipes_write(ctx, "report_asset_materialization", list(
    asset_key = key, data_version = data_version,
    metadata = .pipes_metadata(metadata, "pipes_report_materialization")
  ))
  ctx$materialized <- c(ctx$materialized, key)
  invisible(NULL)
}

#' Report an asset check result; the asset must declare the check (AssetCheckSpec).
pipes_report_check <- function(ctx, check_name, passed, severity = "ERROR",
                               metadata = list(), asset_key = NULL) {
  key <- .pipes_asset_key(ctx, asset_key, "pipes_report_check")
  if (!severity %in% c("ERROR", "WARN")) stop("pipes_report_check: severity is ERROR or WARN")
  .pipes_write(ctx, "report_asset_check", list(
    asset_key = key, check_name = check_name, passed = isTRUE(passed), severity = severity,
    metadata = .pipes_metadata(metadata, "pipes_report_check")
  ))
}

#' Send any JSON-serialisable payload (read in Python with get_custom_messages()).
pipes_report_custom_message <- function(ctx, payload) {
  .pipes_write(ctx, "report_custom_message", list(payload = payload))
}

.pipes_exception <- function(error) {
  call <- conditionCall(error)
  message <- conditionMessage(error)
  if (!is.null(call)) message <- paste0("Error in ", paste(deparse(call), collapse = " "), ": ", message)
  list(name = class(error)[[1]], message = message,
       stack = as.list(attr(error, "pipes_stack") %||% character(0)),
       cause = NULL, context = NULL)
}

#' Close the session ("closed"); with an R condition as error, Dagster records it. Idempotent.
pipes_close <- function(ctx, error = NULL) {
  if (isTRUE(ctx$closed)) return(invisible(NULL))
  params <- if (is.null(error)) .pipes_empty_object() else list(exception = .pipes_exception(error))
  .pipes_write(ctx, "closed", params)
  ctx$closed <- TRUE
  invisible(NULL)
}

# The R calls from main(ctx) down to the failing one, one line each (Dagster joins them).
.pipes_call_stack <- function(calls) {
  lines <- vapply(calls, function(call) paste(deparse(call, nlines = 1), collapse = " "),
                  character(1))
  start <- match("main(ctx)", lines, nomatch = 1)
  lines <- lines[start:length(lines)]
  lines <- lines[!startsWith(lines, ".handleSimpleError(") & !startsWith(lines, "h(simpleError(")]
  paste0(lines, "\n")
}

#' Open, run main(ctx), close. On an R error: close with the error, then quit(status = 1).
pipes_run <- function(main) {
  ctx <- pipes_open()
  stack <- character(0)
  outcome <- tryCatch(
    withCallingHandlers(
      {
        main(ctx)
        NULL
      },
      warning = function(w) {
        pipes_log(ctx, paste("R warning:", conditionMessage(w)), "WARNING")
        invokeRestart("muffleWarning")
      },
      error = function(e) stack <<- .pipes_call_stack(sys.calls())
    ),
    error = function(e) e
  )
  if (inherits(outcome, "error")) {
    attr(outcome, "pipes_stack") <- stack
    message(.pipes_exception(outcome)$message)
    pipes_close(ctx, error = outcome)
    quit(save = "no", status = 1)
  }
  pipes_close(ctx)
  invisible(NULL)
}
