# German credit scorecard as an R logistic regression (glm, binomial, logit link).
# The modelops platform runs this script through Dagster Pipes; everything it needs comes
# from the Pipes extras (mode, work_dir, file paths, column lists, params, seed).
#   train: fit on train_path, score holdout_path, write model.rds, holdout_scores.csv and
#          description.json into work_dir, report metadata and the runtime_fit_healthy check.
#   score: load model_path, score input_path, write scores.csv into work_dir.
# Only base R (stats) and jsonlite are used.

source(Sys.getenv("MODELOPS_R_PIPES_CLIENT"))

read_table <- function(path) {
  read.csv(path, stringsAsFactors = FALSE, na.strings = "", check.names = FALSE)
}

# Training levels of each categorical column, sorted in C-locale order (the same on every
# machine); the first level is the reference level of the model.
training_levels <- function(data, categorical) {
  levels <- lapply(categorical, function(column) {
    sort(unique(as.character(na.omit(data[[column]]))), method = "radix")
  })
  names(levels) <- categorical
  levels
}

# The model inputs as glm sees them: numbers, and factors with the training levels. A level
# never seen in training is scored as the reference level, with a warning in the run's log.
model_inputs <- function(data, numeric, categorical, levels, ctx) {
  inputs <- data[, c(numeric, categorical), drop = FALSE]
  for (column in numeric) inputs[[column]] <- as.numeric(inputs[[column]])
  for (column in categorical) {
    values <- as.character(inputs[[column]])
    unseen <- !is.na(values) & !(values %in% levels[[column]])
    if (any(unseen)) {
      pipes_log(ctx, sprintf(
        "%s: %d row(s) with a level unseen in training (%s) scored as the reference level '%s'",
        column, sum(unseen), toString(unique(values[unseen])), levels[[column]][[1]]
      ), level = "WARNING")
      values[unseen] <- levels[[column]][[1]]
    }
    inputs[[column]] <- factor(values, levels = levels[[column]])
  }
  inputs
}

write_scores <- function(scores, path) {
  text <- ifelse(is.na(scores), "", sprintf("%.17g", scores))
  writeLines(c("score", text), path)
}

coefficient_of <- function(coefficients, name) {
  value <- coefficients[[name]]
  if (is.na(value)) 0 else value # an aliased coefficient contributes nothing, as in predict()
}

# The fit as a plain linear model the platform can score in Python.
portable_model <- function(fit, numeric, categorical, levels) {
  coefficients <- coef(fit)
  term_labels <- attr(terms(fit), "term.labels")
  names(term_labels) <- c(numeric, categorical)
  list(
    format = "modelops.linear_model",
    intercept = coefficient_of(coefficients, "(Intercept)"),
    numeric = lapply(numeric, function(column) {
      list(name = column, coefficient = coefficient_of(coefficients, term_labels[[column]]))
    }),
    categorical = lapply(categorical, function(column) {
      others <- levels[[column]][-1]
      level_coefficients <- lapply(others, function(level) {
        coefficient_of(coefficients, paste0(term_labels[[column]], level))
      })
      names(level_coefficients) <- others
      list(name = column, reference = levels[[column]][[1]], levels = level_coefficients)
    })
  )
}

runtime_description <- function() {
  list(
    language = "R",
    version = paste(R.version$major, R.version$minor, sep = "."),
    packages = list(stats = as.character(packageVersion("stats")),
                    jsonlite = as.character(packageVersion("jsonlite")))
  )
}

train <- function(ctx, extras) {
  params <- extras$params
  numeric <- as.character(unlist(extras$numeric))
  categorical <- as.character(unlist(extras$categorical))
  training <- read_table(extras$train_path)
  holdout <- read_table(extras$holdout_path)
  pipes_log(ctx, sprintf("training on %d rows, %d numeric and %d categorical inputs",
                         nrow(training), length(numeric), length(categorical)))

  levels <- training_levels(training, categorical)
  inputs <- model_inputs(training, numeric, categorical, levels, ctx)
  inputs$label <- as.integer(training$label)
  fit <- glm(label ~ ., family = binomial(), data = inputs,
             control = glm.control(maxit = params$maxit %||% 50))
  aliased <- names(which(is.na(coef(fit))))
  pipes_log(ctx, sprintf("glm on %d complete rows %s after %d iterations, AIC %.3f",
                         nobs(fit), if (fit$converged) "converged" else "did NOT converge",
                         fit$iter, fit$aic))

  work_dir <- extras$work_dir
  saveRDS(list(fit = fit, levels = levels, numeric = numeric, categorical = categorical),
          file.path(work_dir, "model.rds"))
  holdout_scores <- predict(fit, newdata = model_inputs(holdout, numeric, categorical, levels, ctx),
                            type = "response")
  write_scores(holdout_scores, file.path(work_dir, "holdout_scores.csv"))

  coefficients <- coef(fit)
  description <- list(
    runtime = runtime_description(),
    model_file = "model.rds",
    family = "glm binomial logit",
    terms = lapply(names(coefficients), function(term) {
      list(term = term, value = unname(coefficients[[term]]), kind = "coefficient")
    }),
    portable = portable_model(fit, numeric, categorical, levels)
  )
  jsonlite::write_json(description, file.path(work_dir, "description.json"), auto_unbox = TRUE,
                       digits = NA, null = "null", na = "null", pretty = TRUE)
  pipes_log(ctx, sprintf("wrote model.rds, holdout_scores.csv (%d rows), description.json",
                         length(holdout_scores)))

  pipes_report_materialization(ctx, metadata = list(
    runtime_language = "R",
    runtime_version = runtime_description()$version,
    training_rows = nrow(training),
    holdout_rows = nrow(holdout),
    converged = fit$converged,
    aic = fit$aic,
    iterations = as.integer(fit$iter)
  ))
  pipes_report_check(ctx, "runtime_fit_healthy",
                     passed = fit$converged && length(aliased) == 0,
                     metadata = list(converged = fit$converged,
                                     aliased_coefficients = toString(aliased)))
}

score <- function(ctx, extras) {
  model <- readRDS(extras$model_path)
  data <- read_table(extras$input_path)
  inputs <- model_inputs(data, model$numeric, model$categorical, model$levels, ctx)
  scores <- predict(model$fit, newdata = inputs, type = "response")
  write_scores(scores, file.path(extras$work_dir, "scores.csv"))
  pipes_log(ctx, sprintf("scored %d rows into scores.csv", length(scores)))
}

pipes_run(function(ctx) {
  extras <- ctx$extras
  set.seed(extras$seed)
  if (identical(extras$mode, "train")) {
    train(ctx, extras)
  } else if (identical(extras$mode, "score")) {
    score(ctx, extras)
  } else {
    stop("extras$mode must be 'train' or 'score', got: ", toString(extras$mode))
  }
})
