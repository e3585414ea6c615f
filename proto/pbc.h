/* pbc.h — checks of decoded protobuf-c messages shared by the wire formats (worker and backend
 * messages), for what protobuf-c itself lets through. */
#pragma once

#include <stdbool.h>

#include <protobuf-c/protobuf-c.h>

/* protobuf-c takes a key with field number 0 when it comes as an overlong varint, keeps it as an
 * unknown field and writes it back canonically, which it then refuses: such a message is invalid
 * protobuf. False when m holds one, at any depth. */
bool pbc_no_field_zero(const ProtobufCMessage *m);
