//! AMQP 1.0 (feature `amqp`).
